#!/usr/bin/env bash
# The talking portrait as a virtual camera that OBS, browsers and meeting apps pick up (v4l2loopback).
# Needs the kernel module, once, as root:
#   apt-get install v4l2loopback-dkms && modprobe v4l2loopback video_nr=10 card_label=talkingface exclusive_caps=1
# Usage: virtual-camera.sh PORTRAIT [DEVICE]   (microphone in; DEVICE defaults to /dev/video10)
set -euo pipefail
portrait=${1:?usage: virtual-camera.sh PORTRAIT [DEVICE]}
dev=${2:-/dev/video10}
if [ ! -e "$dev" ]; then
  echo "virtual-camera: $dev does not exist; load v4l2loopback first (see the comment at the top)" >&2
  exit 1
fi
exec gst-launch-1.0 autoaudiosrc ! audioconvert ! audioresample ! audio2landmarks ! \
  landmarks2face portrait="$portrait" ! videoconvert ! video/x-raw,format=YUY2 ! v4l2sink device="$dev" sync=false
