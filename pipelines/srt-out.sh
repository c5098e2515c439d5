#!/usr/bin/env bash
# Speech (a file, or "mic") to an SRT listener carrying MPEG-TS (H.264 + AAC): for OBS (Media Source:
# srt://HOST:PORT) and broadcast encoders. Usage: srt-out.sh SPEECH|mic PORTRAIT PORT
set -euo pipefail
src=${1:?usage: srt-out.sh SPEECH|mic PORTRAIT PORT}
portrait=${2:?}; port=${3:?}
if [ "$src" = mic ]; then
  source="autoaudiosrc ! audioconvert ! audioresample"
else
  source="filesrc location=$src ! decodebin ! audioconvert ! audioresample"
fi
exec gst-launch-1.0 -q -e $source ! tee name=t \
  t. ! queue ! audio2landmarks ! landmarks2face portrait="$portrait" ! videoconvert ! video/x-raw,format=I420 ! \
       x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! h264parse ! queue ! mux. \
  t. ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! queue ! mux. \
  mpegtsmux name=mux alignment=7 ! srtsink uri="srt://:$port" wait-for-connection=false
