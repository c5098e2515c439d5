#!/usr/bin/env bash
# Speech (a file, or the microphone with "mic") to RTP over UDP: H.264 video on PORT, Opus audio on PORT+2.
# Usage: rtp-out.sh SPEECH|mic PORTRAIT HOST PORT
# Receive with:
#   gst-launch-1.0 udpsrc port=PORT caps="application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96" ! \
#     rtpjitterbuffer ! rtph264depay ! avdec_h264 ! videoconvert ! autovideosink \
#     udpsrc port=PORT+2 caps="application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=97" ! \
#     rtpjitterbuffer ! rtpopusdepay ! opusdec ! autoaudiosink
set -euo pipefail
src=${1:?usage: rtp-out.sh SPEECH|mic PORTRAIT HOST PORT}
portrait=${2:?}; host=${3:?}; port=${4:?}
if [ "$src" = mic ]; then
  source="autoaudiosrc ! audioconvert ! audioresample"
else
  source="filesrc location=$src ! decodebin ! audioconvert ! audioresample"
fi
exec gst-launch-1.0 -q -e $source ! tee name=t \
  t. ! queue ! audio2landmarks ! landmarks2face portrait="$portrait" ! videoconvert ! video/x-raw,format=I420 ! \
       x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! rtph264pay config-interval=1 pt=96 ! \
       udpsink host="$host" port="$port" \
  t. ! queue ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=97 ! udpsink host="$host" port=$((port + 2))
