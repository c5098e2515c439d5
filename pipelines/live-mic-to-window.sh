#!/usr/bin/env bash
# Microphone to a window, live. The sink's latency follows what the elements report.
set -euo pipefail
exec gst-launch-1.0 autoaudiosrc ! audioconvert ! audioresample ! audio2landmarks ! \
  landmarksrender ! videoconvert ! autovideosink
