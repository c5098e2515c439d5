#!/usr/bin/env bash
# Microphone to a window, live: the portrait speaks what the microphone hears.
# Usage: live-mic-to-window.sh PORTRAIT
set -euo pipefail
portrait=${1:?usage: live-mic-to-window.sh PORTRAIT}
exec gst-launch-1.0 autoaudiosrc ! audioconvert ! audioresample ! audio2landmarks ! \
  landmarks2face portrait="$portrait" ! videoconvert ! autovideosink
