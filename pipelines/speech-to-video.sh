#!/usr/bin/env bash
# Speech file + portrait to an MP4 of that person speaking (H.264 + AAC). File to file.
set -euo pipefail
# x264 needs even frame sizes: the portrait's size rounded down to even numbers.
even_size() {
  local caps w h
  caps=$(gst-launch-1.0 -v filesrc location="$1" ! decodebin ! videoconvert ! video/x-raw,format=RGBA ! fakesink 2>/dev/null | grep -o 'width=(int)[0-9]*, height=(int)[0-9]*' | head -n 1)
  w=$(echo "$caps" | sed 's/.*width=(int)\([0-9]*\).*/\1/')
  h=$(echo "$caps" | sed 's/.*height=(int)\([0-9]*\).*/\1/')
  if [ -z "$w" ] || [ -z "$h" ]; then
    echo "cannot read the portrait $1 (PNG or JPEG expected)" >&2
    return 1
  fi
  echo "width=$((w / 2 * 2)),height=$((h / 2 * 2))"
}
in=${1:?usage: speech-to-video.sh SPEECH PORTRAIT OUT.mp4}
portrait=${2:?usage: speech-to-video.sh SPEECH PORTRAIT OUT.mp4}
out=${3:?usage: speech-to-video.sh SPEECH PORTRAIT OUT.mp4}
size=$(even_size "$portrait")
# progressreport prints how far the speech has been read every 2 s on long inputs; the queues hold
# up to 200 buffers whatever their duration (the audio runs ahead of the video while frames are made).
exec gst-launch-1.0 -q -e \
  filesrc location="$in" ! decodebin name=d \
  d. ! progressreport update-freq=2 ! audioconvert ! audioresample ! tee name=t \
  t. ! queue max-size-time=0 max-size-bytes=0 max-size-buffers=200 ! audio2landmarks ! \
       landmarks2face portrait="$portrait" ! video/x-raw,format=I420,$size ! \
       x264enc speed-preset=veryfast ! h264parse ! queue ! mux. \
  t. ! queue max-size-time=0 max-size-bytes=0 max-size-buffers=200 ! audioconvert ! audioresample ! \
       avenc_aac ! aacparse ! queue ! mux. \
  mp4mux name=mux ! filesink location="$out"
