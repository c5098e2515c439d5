#!/usr/bin/env bash
# Speech file + portrait to an MP4 of that person speaking (H.264 + AAC). File to file.
set -euo pipefail
in=${1:?usage: speech-to-video.sh SPEECH PORTRAIT OUT.mp4}
portrait=${2:?usage: speech-to-video.sh SPEECH PORTRAIT OUT.mp4}
out=${3:?usage: speech-to-video.sh SPEECH PORTRAIT OUT.mp4}
exec gst-launch-1.0 -q -e \
  filesrc location="$in" ! decodebin name=d \
  d. ! audioconvert ! audioresample ! tee name=t \
  t. ! queue ! audio2landmarks ! landmarks2face portrait="$portrait" ! videoconvert ! \
       video/x-raw,format=I420 ! x264enc speed-preset=veryfast ! h264parse ! queue ! mux. \
  t. ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! queue ! mux. \
  mp4mux name=mux ! filesink location="$out"
