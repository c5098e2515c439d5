#!/usr/bin/env bash
# Speech (a file, or "mic") to an RTMP server (YouTube, Twitch, nginx-rtmp...): FLV with H.264 + AAC.
# Usage: rtmp-out.sh SPEECH|mic PORTRAIT rtmp://server/app/streamkey
set -euo pipefail
src=${1:?usage: rtmp-out.sh SPEECH|mic PORTRAIT RTMP_URL}
portrait=${2:?}; url=${3:?}
if [ "$src" = mic ]; then
  source="autoaudiosrc ! audioconvert ! audioresample"
else
  source="filesrc location=$src ! decodebin ! audioconvert ! audioresample"
fi
exec gst-launch-1.0 -q -e $source ! tee name=t \
  t. ! queue ! audio2landmarks ! landmarks2face portrait="$portrait" ! videoconvert ! video/x-raw,format=I420 ! \
       x264enc tune=zerolatency speed-preset=veryfast key-int-max=50 ! h264parse ! queue ! mux. \
  t. ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! queue ! mux. \
  flvmux name=mux streamable=true ! rtmp2sink location="$url"
