"""GRID sample clips: decoding, dlib 68-point landmarks, normalisation, and the mean face.

python -m talkingface_kit.grid            # landmarks of every clip into cache/grid/
python -m talkingface_kit.grid meanface   # writes models/mean_face.txt

The clips (GRID corpus, Cooke et al. 2006, CC BY 4.0) live in ../shared/data/grid (override with
TALKINGFACE_GRID). The dlib model is used from where Debian's libdlib-data installs it; it is never
copied into the repository (its iBUG 300-W training data excludes commercial use).
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np

from . import canon

KIT = pathlib.Path(__file__).resolve().parents[1]
GRID_DIR = pathlib.Path(os.environ.get("TALKINGFACE_GRID", KIT.parent.parent / "shared" / "data" / "grid"))
if not GRID_DIR.exists():
    GRID_DIR = pathlib.Path("/work/shared/data/grid")
CACHE = KIT / "cache" / "grid"
PREDICTOR = os.environ.get("DLIB_SHAPE_PREDICTOR", "/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
W, H = 360, 288
FPS = 25
SR = 16000

CLIPS = {
    "bbaf2n": "bin blue at f two now",
    "brbk7n": "bin red by k seven now",
    "lbax4n": "lay blue at x four now",
    "lbbc2a": "lay blue by c two again",
    "sbwe5n": "set blue with e five now",
}


def ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def decode(clip: str):
    """(gray frames [N, H, W] uint8, audio f32 mono 16 kHz). Both start at the stream's time 0."""
    src = str(GRID_DIR / f"{clip}.mpg")
    v = subprocess.run([ffmpeg(), "-v", "error", "-i", src, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                       check=True, capture_output=True).stdout
    frames = np.frombuffer(v, dtype=np.uint8).reshape(-1, H, W)
    a = subprocess.run([ffmpeg(), "-v", "error", "-i", src, "-vn", "-ac", "1", "-ar", str(SR), "-f", "s16le", "-"],
                       check=True, capture_output=True).stdout
    audio = np.frombuffer(a, dtype=np.int16).astype(np.float32) / 32768.0
    return frames, audio


def landmarks(frames: np.ndarray) -> np.ndarray:
    """dlib 68 points per frame [N, 68, 2] in pixels; a frame without a face repeats the previous."""
    import dlib
    det = dlib.get_frontal_face_detector()
    pred = dlib.shape_predictor(PREDICTOR)
    out = np.zeros((len(frames), 68, 2))
    last = None
    for i, f in enumerate(frames):
        rects = det(f, 1)
        if len(rects) == 0:
            rect = last
        else:
            rect = max(rects, key=lambda r: r.width() * r.height())
        if rect is None:
            out[i] = np.nan
            continue
        last = rect
        s = pred(f, rect)
        out[i] = [(p.x, p.y) for p in s.parts()]
    # fill leading frames without a face from the first detected one
    ok = ~np.isnan(out[:, 0, 0])
    if not ok.all():
        first = np.argmax(ok)
        out[:first] = out[first]
    return out


def clip_data(clip: str) -> dict:
    """Cached: audio, raw landmarks [N,68,2] pixels, pinned landmarks [N,68,2] canonical."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{clip}.npz"
    if path.exists():
        d = np.load(path)
        return {k: d[k] for k in d.files}
    frames, audio = decode(clip)
    raw = landmarks(frames)
    d = {"audio": audio, "raw": raw, "pinned": canon.pin_eyes(raw)}
    np.savez_compressed(path, **d)
    return d


def neutral_face(pinned: np.ndarray, frac: float = 0.1) -> np.ndarray:
    """A speaker's neutral face: mean of the frames with the most closed mouth (lowest frac)."""
    op = canon.mouth_opening(pinned)
    k = max(3, int(round(frac * len(op))))
    idx = np.argsort(op)[:k]
    return pinned[idx].mean(0)


def identity_removed(pinned: np.ndarray, mean_face: np.ndarray) -> np.ndarray:
    """Eskimez et al.: the speaker's motion (frames minus their neutral face) on the mean face."""
    return pinned - neutral_face(pinned) + mean_face


def make_mean_face(clips=None) -> np.ndarray:
    clips = list(clips or CLIPS)
    faces = [neutral_face(clip_data(c)["pinned"]) for c in clips]
    m = np.mean(faces, axis=0)
    m = 0.5 * (m + canon.mirror(m))          # left-right symmetric
    # close the mouth exactly: inner upper and lower lip points meet at their midpoints
    for u, l in zip(canon.INNER_UPPER, canon.INNER_LOWER):
        mid = 0.5 * (m[u] + m[l])
        m[u] = mid
        m[l] = mid
    return canon.pin_eyes(m)                  # re-pin exactly (symmetrisation keeps it, up to rounding)


def main(argv):
    for c in CLIPS:
        d = clip_data(c)
        op = canon.mouth_opening(d["pinned"])
        print(f"{c}: {len(d['raw'])} frames, {len(d['audio']) / SR:.2f} s audio, "
              f"opening min {op.min():.3f} max {op.max():.3f}")
    if argv and argv[0] == "meanface":
        m = make_mean_face()
        out = canon.MODELS_DIR / "mean_face.txt"
        out.parent.mkdir(exist_ok=True)
        with open(out, "w") as f:
            for x, y in m:
                f.write(f"{x:.6f} {y:.6f}\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
