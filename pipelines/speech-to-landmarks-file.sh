#!/usr/bin/env bash
# Speech file to the raw landmark stream: a plain array of 576-byte records (docs/landmark-stream.md).
set -euo pipefail
in=${1:?usage: speech-to-landmarks-file.sh SPEECH OUT.bin}
out=${2:?usage: speech-to-landmarks-file.sh SPEECH OUT.bin}
exec gst-launch-1.0 -q filesrc location="$in" ! decodebin ! audioconvert ! audioresample ! \
  audio2landmarks ! filesink location="$out"
