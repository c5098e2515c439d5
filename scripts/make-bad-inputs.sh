#!/usr/bin/env bash
# Writes the bad inputs of every kind that tests/reliability.rs feeds to the elements, into the
# folder given (created if missing):
#
#   bash scripts/make-bad-inputs.sh /tmp/bad
#
# Models (model_*.onnx), audio (audio_*), landmark record files (landmarks_*.bin) and portraits
# (portrait_*). Plain bash and the Python 3 standard library; the "real" inputs it starts from are
# the repository's own (models/, media/). Deterministic: the same bytes on every run.
# docs/reliability.md lists each input and what the elements do with it.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUTPUT_FOLDER" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
mkdir -p "$out"

python3 - "$root" "$out" <<'PY'
import math, os, random, struct, sys, wave, zlib

root, out = sys.argv[1], sys.argv[2]
rng = random.Random(12)

def w(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

def read(rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()

# ---- models -------------------------------------------------------------------------------
a2l = read("models/audio2landmarks.onnx")
w("model_empty.onnx", b"")
w("model_random.onnx", bytes(rng.getrandbits(8) for _ in range(4096)))
w("model_text.onnx", b"this is not an ONNX model, just some text\n" * 4)
w("model_truncated.onnx", a2l[: len(a2l) // 2])
# A valid ONNX model of the wrong kind: another shipped model.
w("model_wrong_kind_l2f.onnx", read("models/landmarks2face.onnx"))
w("model_wrong_kind_detector.onnx", read("models/face_detector.onnx"))

# ---- audio --------------------------------------------------------------------------------
def wav(name, rate, channels, frames):
    with wave.open(os.path.join(out, name), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(frames)

# 2 s of silence at 16 kHz mono.
wav("audio_silence.wav", 16000, 1, b"\0\0" * 32000)
# 2 s of a 220 Hz tone at 8 kHz stereo (not the model's rate or channel count).
tone = b"".join(
    struct.pack("<hh", v, v)
    for v in (int(8000 * math.sin(2 * math.pi * 220 * i / 8000)) for i in range(16000))
)
wav("audio_8k_stereo.wav", 8000, 2, tone)
# A WAV whose header is garbage after "RIFF....WAVE": no fmt chunk, random bytes.
good = open(os.path.join(out, "audio_silence.wav"), "rb").read()
w("audio_corrupt_header.wav", good[:12] + bytes(rng.getrandbits(8) for _ in range(32)) + good[44:])
# Raw F32LE mono at 16 kHz (caps: audio/x-raw,format=F32LE,rate=16000,channels=1), 2 s of a
# tone with NaN and infinite samples scattered through it (every 1000th sample).
samples = []
for i in range(32000):
    if i % 1000 == 500:
        samples.append(float("nan") if (i // 1000) % 2 == 0 else float("inf"))
    else:
        samples.append(0.3 * math.sin(2 * math.pi * 180 * i / 16000))
w("audio_nan.f32", struct.pack("<%df" % len(samples), *samples))

# ---- landmark records (576 bytes: f32 points[68][2], pose[6], confidence, u32 flags) --------
mean = [tuple(map(float, l.split()[:2])) for l in open(os.path.join(root, "models/mean_face.txt"))
        if l.strip() and not l.startswith("#")]
assert len(mean) == 68, len(mean)

def record(points=None, pose=(0.0,) * 6, confidence=1.0, flags=0):
    pts = points or mean
    return (struct.pack("<136f", *[c for p in pts for c in p]) + struct.pack("<6f", *pose)
            + struct.pack("<f", confidence) + struct.pack("<I", flags))

good_rec = record()
assert len(good_rec) == 576
nan_pts = list(mean)
nan_pts[10] = (float("nan"), nan_pts[10][1])
w("landmarks_nan.bin", good_rec * 10 + record(points=nan_pts) + good_rec * 10)
w("landmarks_truncated.bin", good_rec * 25 + good_rec[:100])
w("landmarks_absurd.bin", good_rec * 10 + record(pose=(0.0, 0.0, 0.0, 3e38, 0.0, 0.0)) + good_rec * 10)
w("landmarks_flags.bin", good_rec * 10 + record(flags=0x80) + good_rec * 10)

# ---- portraits ----------------------------------------------------------------------------
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

def png(width, height, rgb, ihdr_size=None):
    """An RGB PNG, every pixel `rgb`; ihdr_size lies about the size in the header."""
    row = b"\0" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)
    iw, ih = ihdr_size or (width, height)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", iw, ih, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))

w("portrait_not_an_image.png", b"this is not a picture\n" * 20)
w("portrait_flat.png", png(300, 300, (128, 128, 128)))
jpg = read("media/portrait.jpg")
w("portrait_truncated.jpg", jpg[: len(jpg) // 3])
# The header claims 60000 x 60000 (10.8 GB as RGB); the data is one row.
w("portrait_huge.png", png(16, 1, (128, 128, 128), ihdr_size=(60000, 60000)))
w("portrait_tiny.png", png(8, 8, (200, 160, 140)))
PY
ls "$out"
