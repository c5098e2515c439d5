#!/usr/bin/env bash
# The main job: a speech recording and a portrait in, an MP4 (H.264 + AAC) of that person speaking out.
# Usage: scripts/run.sh [SPEECH_FILE] [PORTRAIT.jpg|png] [OUTPUT.mp4]
# With no arguments: the bundled speech sample and public-domain portrait (media/).
# Sets up the machine first (idempotent: Debian packages, ONNX Runtime, release build, plugin install).
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
size=$(even_size "$portrait")
echo "run: $speech + $portrait -> $output"
start=$(date +%s%N)
# progressreport prints how far the speech has been read every 2 s on long inputs.
gst-launch-1.0 -q -e \
  filesrc location="$speech" ! decodebin name=dec \
  dec. ! progressreport update-freq=2 ! audioconvert ! audioresample ! tee name=t \
  t. ! queue max-size-time=0 max-size-bytes=0 max-size-buffers=200 ! audio2landmarks ! \
       landmarks2face portrait="$portrait" ! video/x-raw,format=I420,$size ! \
       x264enc speed-preset=veryfast ! h264parse ! queue ! mux. \
  t. ! queue max-size-time=0 max-size-bytes=0 max-size-buffers=200 ! audioconvert ! audioresample ! \
       avenc_aac ! aacparse ! queue ! mux. \
  mp4mux name=mux ! filesink location="$output"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf 'run: wrote %s in %d.%03d s\n' "$output" $((ms / 1000)) $((ms % 1000))
