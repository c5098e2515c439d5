#!/usr/bin/env bash
# Reenactment: the face in one video drives another person's portrait (facelandmarks -> landmarks2face);
# the driving video's sound is kept. Usage: reenactment.sh DRIVING_VIDEO PORTRAIT OUT.mp4
set -euo pipefail
in=${1:?usage: reenactment.sh DRIVING_VIDEO PORTRAIT OUT.mp4}
portrait=${2:?}; out=${3:?}
exec gst-launch-1.0 -q -e filesrc location="$in" ! decodebin name=d \
  d. ! queue ! videoconvert ! facelandmarks ! landmarks2face portrait="$portrait" ! videoconvert ! \
       video/x-raw,format=I420 ! x264enc speed-preset=veryfast ! h264parse ! queue ! mux. \
  d. ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! queue ! mux. \
  mp4mux name=mux ! filesink location="$out"
