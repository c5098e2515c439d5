#!/usr/bin/env bash
# The main job: speech in, a video of the face landmarks speaking out (MP4, H.264 + AAC).
# Usage: scripts/run.sh [SPEECH_FILE] [OUTPUT.mp4]
# With no arguments it uses the bundled speech sample (media/speech_sample.ogg).
# Sets up the machine first (idempotent: Debian packages, ONNX Runtime, release build, plugin install).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
input=${1:-$here/media/speech_sample.ogg}
output=${2:-$PWD/talkingface-landmarks.mp4}
bash "$here/scripts/setup.sh"
input=$(realpath "$input")
output=$(realpath -m "$output")
if [ ! -f "$input" ]; then
  echo "run: no such file: $input" >&2
  exit 1
fi
echo "run: $input -> $output"
start=$(date +%s%N)
gst-launch-1.0 -q -e \
  filesrc location="$input" ! decodebin name=dec \
  dec. ! audioconvert ! audioresample ! tee name=t \
  t. ! queue ! audio2landmarks ! landmarksrender ! video/x-raw,width=512,height=512 ! \
       videoconvert ! x264enc speed-preset=veryfast tune=zerolatency ! h264parse ! queue ! mux. \
  t. ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! queue ! mux. \
  mp4mux name=mux ! filesink location="$output"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf 'run: wrote %s in %d.%03d s\n' "$output" $((ms / 1000)) $((ms % 1000))
