#!/usr/bin/env bash
# GPU readiness check: runs the model elements on CUDA and, where TensorRT's libraries are present,
# on TensorRT (engine cache cold, then warm), and prints frames per second, the provider each
# element reports, and the TensorRT engine-build time. Installs nothing and reaches no network.
#
#   scripts/gpu-check.sh ORT_DIR [TRT_DIR]
#
# ORT_DIR: the ONNX Runtime GPU library: a folder with libonnxruntime.so.<version> and its
#   provider libraries (libonnxruntime_providers_shared.so, _cuda.so, _tensorrt.so), e.g. the
#   onnxruntime/capi folder of the PyPI onnxruntime-gpu wheel (unzip it on a machine with network:
#   `pip download --no-deps onnxruntime-gpu==1.31.1`, about 255 MB), or the .whl file itself.
# TRT_DIR (optional): a folder with TensorRT's libraries (libnvinfer.so.10 and its plugins, e.g.
#   from the PyPI tensorrt-cu13 wheels); without it only CUDA (and CPU, for comparison) run.
# CUDA and cuDNN must be loadable: from the system, or from a folder in $CUDA_LIBS (colon-separated,
#   e.g. the nvidia/*/lib folders of a PyTorch installation); the script adds PyTorch's own
#   nvidia/*/lib folders by itself when `python3 -c "import torch"` works.
# The plugin is built if target/release/libgsttalkingface.so is missing (cargo, offline).
# Environment: SECONDS_OF_SPEECH (default 60), FRAMES (landmarks2face frames, default 500).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if [ $# -lt 1 ]; then
  sed -n 2,20p "$0"
  exit 2
fi
ORT_DIR=$1
TRT_DIR=${2:-}
SPEECH_S=${SECONDS_OF_SPEECH:-60}
FRAMES=${FRAMES:-500}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The ONNX Runtime library: from a folder, or from the wheel itself.
if [ -f "$ORT_DIR" ] && [[ "$ORT_DIR" == *.whl ]]; then
  python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); [z.extract(n, sys.argv[2]) for n in z.namelist() if n.startswith('onnxruntime/capi/') and '.so' in n]" "$ORT_DIR" "$work"
  ORT_DIR=$work/onnxruntime/capi
fi
ort_lib=$(ls "$ORT_DIR"/libonnxruntime.so.* 2>/dev/null | grep -v providers | head -n1 || true)
if [ -z "$ort_lib" ]; then
  echo "gpu-check: no libonnxruntime.so.<version> in $ORT_DIR" >&2
  exit 2
fi
export ORT_DYLIB_PATH=$ort_lib
libs=$ORT_DIR
if [ -n "$TRT_DIR" ]; then libs=$libs:$TRT_DIR; fi
if [ -n "${CUDA_LIBS:-}" ]; then libs=$libs:$CUDA_LIBS; fi
if torch_nv=$(python3 -c "import torch, os, glob; print(':'.join(sorted(glob.glob(os.path.join(os.path.dirname(torch.__file__), '..', 'nvidia', '*', 'lib')))))" 2>/dev/null); then
  if [ -n "$torch_nv" ]; then libs=$libs:$torch_nv; fi
fi
export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

echo "== machine"
(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available")
echo "ONNX Runtime: $ORT_DYLIB_PATH"
echo "TensorRT: ${TRT_DIR:-none given}"

if [ ! -f target/release/libgsttalkingface.so ]; then
  echo "== building the plugin (release, offline)"
  cargo build --release --offline --quiet
fi
export GST_PLUGIN_PATH=$here/target/release
export GST_REGISTRY=$work/registry.bin

speech=$work/speech.wav
gst-launch-1.0 -q audiotestsrc wave=pink-noise num-buffers=$((SPEECH_S * 10)) samplesperbuffer=1600 ! \
  audio/x-raw,rate=16000,channels=1 ! audioconvert ! wavenc ! filesink location="$speech"

# The element messages `talkingface-execution-provider` of element $1 in gst-launch-1.0 -m's
# output on stdin, one line each: "<provider> <load-seconds> <loading>". The models load on the
# CPU at start and their GPU sessions in the background: under a strict provider the message
# comes once that load has finished (the first buffer waits for it), with load-seconds the time
# it took (for TensorRT: the engine build, or the cache read); under auto a first message says
# "cpu" with the providers loading, and a second one the provider switched to (or cpu again, with
# why the others failed).
provider_messages() {
  grep "from element \"$1\".*talkingface-execution-provider" |
    sed -E 's/.*provider=\(string\)([a-z]*).*loading=\(string\)("[^"]*"|[^,;]*).*load-seconds=\(double\)([0-9.e+-]*).*/\1 \3 \2/' |
    tr -d '"\\'
}

# Runs a pipeline with the bus messages printed; prints "<seconds> <provider> <load-seconds>"
# for element $1 (its last provider message).
run() {
  local el=$1 t0 t1 out last
  shift
  t0=$(date +%s.%N)
  out=$(gst-launch-1.0 -m "$@" 2>&1) || { echo "FAILED: $(echo "$out" | grep -m1 ERROR)" >&2; return 1; }
  t1=$(date +%s.%N)
  last=$(echo "$out" | provider_messages "$el" | tail -n1)
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "${last:-? 0}" | cut -d' ' -f1,2)"
}

a2l() {  # provider, extra properties
  run a2l filesrc location="$speech" ! wavparse ! audioconvert ! audioresample ! \
    audio2landmarks name=a2l execution-provider="$1" ${2:-} ! fakesink
}
l2f() {  # provider, extra properties
  run l2f audiotestsrc num-buffers="$FRAMES" samplesperbuffer=640 ! audio/x-raw,rate=16000,channels=1 ! \
    audio2landmarks execution-provider=cpu ! landmarks2face name=l2f execution-provider="$1" \
    portrait=media/portrait.jpg ${2:-} ! fakesink sync=false
}

report() {  # element, provider asked, "<seconds> <provider> <load-seconds>", units done, unit name
  local secs prov load
  read -r secs prov load <<<"$3"
  printf '%-16s asked %-9s got %-9s %8.1f %s/s (%.2f s, of which %.2f s background load)\n' \
    "$1" "$2" "$prov" "$(echo "$4 / $secs" | bc -l)" "$5" "$secs" "${load:-0}"
}

echo "== runs (wall time includes start-up: the strict provider's session is built in the background"
echo "   and the first buffer waits for it)"
for p in cpu cuda; do
  if r=$(a2l $p); then report audio2landmarks $p "$r" "$SPEECH_S" "s of speech"; fi
  if r=$(l2f $p); then report landmarks2face $p "$r" "$FRAMES" frames; fi
done
if [ -n "$TRT_DIR" ]; then
  cache=$work/trt-cache
  for pass in cold warm; do
    if r=$(a2l tensorrt "tensorrt-cache-dir=$cache"); then
      report "audio2landmarks" "trt-$pass" "$r" "$SPEECH_S" "s of speech"
    fi
    if r=$(l2f tensorrt "tensorrt-cache-dir=$cache"); then
      report "landmarks2face" "trt-$pass" "$r" "$FRAMES" frames
      eval "l2f_$pass=$(echo "$r" | cut -d' ' -f1)"
      eval "l2f_load_$pass=$(echo "$r" | cut -d' ' -f3)"
    fi
  done
  if [ -n "${l2f_cold:-}" ] && [ -n "${l2f_warm:-}" ]; then
    # The session build is in the background now: the element says how long it took
    # (load-seconds); the cold - warm wall time, which includes the first buffer's wait for it,
    # should agree.
    printf 'TensorRT engine build (landmarks2face): session load %.1f s cold, %.1f s warm (cold - warm run: %.1f s)\n' \
      "${l2f_load_cold:-0}" "${l2f_load_warm:-0}" "$(echo "$l2f_cold - $l2f_warm" | bc -l)"
  fi
  echo "engine cache: $(du -sh "$cache" 2>/dev/null | cut -f1) in $(ls "$cache" 2>/dev/null | wc -l) files"
  # auto: the CPU serves at once, the GPU session takes over when its (cached) engine is loaded.
  # A live source of AUTO_SECONDS (default 20) so that the switch happens while it runs.
  auto_s=${AUTO_SECONDS:-20}
  echo "== auto (live, ${auto_s} s, warm engine cache): provider messages in order"
  if out=$(gst-launch-1.0 -m audiotestsrc is-live=true num-buffers=$((auto_s * 25)) samplesperbuffer=640 ! \
      audio/x-raw,rate=16000,channels=1 ! audio2landmarks name=a2l execution-provider=auto \
      tensorrt-cache-dir="$cache" ! landmarks2face name=l2f execution-provider=auto \
      tensorrt-cache-dir="$cache" portrait=media/portrait.jpg ! fakesink 2>&1); then
    for el in a2l l2f; do
      echo "$out" | provider_messages $el | while read -r prov load loading; do
        printf '%-4s %-9s after %6.2f s%s\n' "$el" "$prov" "$load" "${loading:+ (loading: $loading)}"
      done
    done
  else
    echo "FAILED: $(echo "$out" | grep -m1 ERROR)"
  fi
else
  echo "TensorRT: skipped (no TRT_DIR given)"
fi
