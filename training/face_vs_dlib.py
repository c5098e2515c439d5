#!/usr/bin/env python3
"""The MediaPipe-derived 68 points (models/face_landmarks.onnx, output ibug68) against dlib's 68-point
model on the GRID clips: normalised mean error per region and the correlation of mouth opening.

    python training/face_vs_dlib.py [--frames N] [--search]

Needs dlib (PyPI dlib-bin) and /usr/share/dlib/shape_predictor_68_face_landmarks.dat (Debian
libdlib-data), imageio-ffmpeg, onnxruntime, numpy: training/.venv or ~/.cache/talkingface/convert-venv.
The kit's VideoTracker runs on every frame (as in video); dlib's HOG detector and shape predictor run
per frame. Errors are divided by the outer-eye-corner distance (dlib 36-45) of dlib's points. Mouth
opening = mean distance of the inner-lip pairs 61-67, 62-66, 63-65 over the mouth width 48-54.
--search also prints, for each dlib point, the mesh vertex closest on average (a diagnostic, to spot
a wrong index in the table of convert_mediapipe.py).
The figures are in docs/facelandmarks-models.md.
"""
import argparse
import os
import pathlib
import sys

import numpy as np

KIT = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(KIT))
from talkingface_kit.face import FaceAnalyzer, VideoTracker  # noqa: E402

REPO = KIT.parent
GRID = pathlib.Path(os.environ.get("TALKINGFACE_GRID", REPO.parent / "shared" / "data" / "grid"))
DLIB_MODEL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "outer lips": range(48, 60), "inner lips": range(60, 68)}


def frames(path, limit=None):
    import imageio_ffmpeg
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    for i, fr in enumerate(gen):
        if limit is not None and i >= limit:
            break
        yield np.frombuffer(fr, np.uint8).reshape(h, w, 3)
    gen.close()


def opening(p):
    gap = (np.linalg.norm(p[:, 61] - p[:, 67], axis=-1) + np.linalg.norm(p[:, 62] - p[:, 66], axis=-1)
           + np.linalg.norm(p[:, 63] - p[:, 65], axis=-1)) / 3
    return gap / np.linalg.norm(p[:, 48] - p[:, 54], axis=-1)


def collect(limit=None):
    """{clip: (dlib68 (F,68,2), mesh468 (F,468,2), model68 (F,68,2))} over frames where both found a face."""
    import dlib
    det, sp = dlib.get_frontal_face_detector(), dlib.shape_predictor(DLIB_MODEL)
    fa = FaceAnalyzer()
    out = {}
    for clip in sorted(GRID.glob("*.mpg")):
        tr = VideoTracker(fa)
        d68, m468, m68 = [], [], []
        for img in frames(clip, limit):
            p68 = tr.process(img)
            rects = det(img, 0)
            if p68 is None or not rects:
                continue
            r = max(rects, key=lambda r: r.area())
            sh = sp(img, r)
            # dlib's part coordinates are pixel indices: +0.5 for the continuous convention
            d68.append(np.array([[q.x + 0.5, q.y + 0.5] for q in sh.parts()]))
            m468.append(tr.pts468[:, :2].copy())
            m68.append(p68)
        out[clip.stem] = tuple(np.array(a) for a in (d68, m468, m68))
    return out


def report(data, weights=None, label="table"):
    """Per-region normalised error and per-clip mouth-opening r; weights (68,468) replaces the model's map."""
    errs = {k: [] for k in REGIONS}
    per_point = []
    rs = {}
    for clip, (d68, m468, m68) in data.items():
        p = m68 if weights is None else np.einsum("kv,fvc->fkc", weights, m468)
        iod = np.linalg.norm(d68[:, 36] - d68[:, 45], axis=-1)
        e = np.linalg.norm(p - d68, axis=-1) / iod[:, None]
        per_point.append(e)
        for k, idx in REGIONS.items():
            errs[k].append(e[:, list(idx)])
        rs[clip] = float(np.corrcoef(opening(p), opening(d68))[0, 1])
    per_point = np.concatenate(per_point)
    print(f"[{label}] frames {len(per_point)}; mean error / eye-corner distance:")
    print("  " + ", ".join(f"{k} {np.concatenate(v).mean():.3f}" for k, v in errs.items())
          + f", all {per_point.mean():.3f}")
    print("  mouth-opening r per clip: " + ", ".join(f"{c} {r:.3f}" for c, r in rs.items()))
    return per_point.mean(0), rs


def search(data):
    d = np.concatenate([v[0] for v in data.values()])
    m = np.concatenate([v[1] for v in data.values()])
    iod = np.linalg.norm(d[:, 36] - d[:, 45], axis=-1)
    for k in range(68):
        e = (np.linalg.norm(m - d[:, k:k + 1], axis=-1) / iod[:, None]).mean(0)
        best = np.argsort(e)[:3]
        print(f"  dlib {k:2d}: " + ", ".join(f"{v} ({e[v]:.3f})" for v in best))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=None, help="frames per clip (default: all)")
    ap.add_argument("--search", action="store_true")
    ap.add_argument("--save", help="save the collected points (.npz) for later analysis")
    args = ap.parse_args()
    data = collect(args.frames)
    if args.save:
        np.savez_compressed(args.save, **{f"{c}_{n}": a for c, v in data.items()
                                          for n, a in zip(("dlib68", "mesh468", "model68"), v)})
    pp, _ = report(data)
    print("  per point: " + " ".join(f"{k}:{v:.3f}" for k, v in enumerate(pp)))
    if args.search:
        search(data)


if __name__ == "__main__":
    main()
