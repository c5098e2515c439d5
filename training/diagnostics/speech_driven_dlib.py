#!/usr/bin/env python3
"""dlib's 68 points on the frames `cargo run --release --example evaluate_landmarks2face` wrote (the
self-reenactment and the speech-driven run of each GRID clip of ../shared/data/grid) against dlib on
the real frames: the per-clip Pearson r of the mouth opening (inner-lip gap 61-67, 62-66, 63-65 over
the mouth width 48-54) and the mean openings. The analysis issue 10 quoted its r 0.48 with (dlib on
the output against dlib on the real video); the example itself measures with the element's own face
analysis.

    python training/diagnostics/speech_driven_dlib.py [FRAMES_DIR] [GRID_DIR]

FRAMES_DIR: the example's OUT_DIR/frames (default target/evaluation/frames). Needs dlib (PyPI
dlib-bin), /usr/share/dlib/shape_predictor_68_face_landmarks.dat (Debian libdlib-data; not free for
commercial use: a measuring tool here, never shipped), imageio-ffmpeg, numpy, pillow.
"""
import pathlib
import sys

import numpy as np
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from face_vs_dlib import DLIB_MODEL, GRID, frames, opening  # noqa: E402


def points(det, sp, img):
    """dlib's 68 points (68, 2) of the largest face, or None."""
    rects = det(img, 0)
    if not rects:
        return None
    sh = sp(img, max(rects, key=lambda r: r.area()))
    return np.array([[q.x + 0.5, q.y + 0.5] for q in sh.parts()], np.float64)


def r_of(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def main():
    import dlib
    root = pathlib.Path(__file__).resolve().parents[2]
    fdir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "target" / "evaluation" / "frames"
    gdir = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else GRID
    det, sp = dlib.get_frontal_face_detector(), dlib.shape_predictor(DLIB_MODEL)
    clips = sorted(p for p in fdir.iterdir() if p.is_dir())
    if not clips:
        raise SystemExit(f"speech_driven_dlib: error: no clip folders in {fdir}")
    rows = []
    for c in clips:
        truth = [points(det, sp, img) for img in frames(gdir / f"{c.name}.mpg")]
        row = {"clip": c.name}
        for kind in ("reenact", "speech"):
            gen, tru = [], []
            for f in sorted(c.glob(f"{kind}_*.png")):
                t = int(f.stem.split("_")[1])
                if t >= len(truth) or truth[t] is None:
                    continue
                g = points(det, sp, np.asarray(Image.open(f).convert("RGB")))
                if g is None:
                    continue
                gen.append(opening(g[None])[0])
                tru.append(opening(truth[t][None])[0])
            row[kind] = (r_of(gen, tru), float(np.mean(gen)) if gen else float("nan"),
                         float(np.mean(tru)) if tru else float("nan"), len(gen))
        rows.append(row)
        print(f"{c.name}: " + ", ".join(f"{k} r {v[0]:.3f} mean {v[1]:.3f} (true {v[2]:.3f}, {v[3]} frames)"
                                        for k, v in row.items() if k != "clip"), flush=True)
    for kind in ("reenact", "speech"):
        rs = [r[kind][0] for r in rows]
        print(f"{kind}: mean r {np.nanmean(rs):.3f}; mean opening {np.nanmean([r[kind][1] for r in rows]):.3f} "
              f"(true {np.nanmean([r[kind][2] for r in rows]):.3f})")


if __name__ == "__main__":
    main()
