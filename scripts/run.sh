#!/usr/bin/env bash
# The main job: a speech recording and a portrait in, an MP4 (H.264 + AAC) of that person speaking out.
# Usage: scripts/run.sh [SPEECH_FILE] [PORTRAIT.jpg|png] [OUTPUT.mp4]
# With no arguments: the bundled speech sample and public-domain portrait (media/).
# Sets up the machine first (idempotent: Debian packages, ONNX Runtime, release build, plugin install).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
speech=${1:-$here/media/speech_sample.ogg}
portrait=${2:-$here/media/portrait.jpg}
output=${3:-$PWD/talkingface.mp4}
for f in "$speech" "$portrait"; do
  if [ ! -f "$f" ]; then
    echo "run: no such file: $f" >&2
    exit 1
  fi
done
bash "$here/scripts/setup.sh"
speech=$(realpath "$speech")
portrait=$(realpath "$portrait")
output=$(realpath -m "$output")
echo "run: $speech + $portrait -> $output"
start=$(date +%s%N)
# The pipeline itself is pipelines/speech-to-video.sh (even output size, progress every 2 s).
bash "$here/pipelines/speech-to-video.sh" "$speech" "$portrait" "$output"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf 'run: wrote %s in %d.%03d s\n' "$output" $((ms / 1000)) $((ms % 1000))
