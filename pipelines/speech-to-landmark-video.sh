#!/usr/bin/env bash
# Speech file (anything decodebin reads) to an MP4 of the face landmarks speaking, H.264 + AAC.
set -euo pipefail
in=${1:?usage: speech-to-landmark-video.sh SPEECH OUT.mp4}
out=${2:?usage: speech-to-landmark-video.sh SPEECH OUT.mp4}
exec gst-launch-1.0 -q -e \
  filesrc location="$in" ! decodebin name=d \
  d. ! audioconvert ! audioresample ! tee name=t \
  t. ! queue ! audio2landmarks ! landmarksrender ! video/x-raw,width=512,height=512 ! \
       videoconvert ! x264enc speed-preset=veryfast ! h264parse ! queue ! mux. \
  t. ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! queue ! mux. \
  mp4mux name=mux ! filesink location="$out"
