"""Neutral mouth check of a landmarks2face generator in its 256 crop (issue 10): the crop-level
counterpart of tests/landmarks2face.rs portrait_expression_neutral_closes_an_open_mouth, without
GStreamer or paste-back, for comparing generators quickly.

1. The portrait (media default: Debian's public-domain grace_hopper.jpg) is cut into the crop frame
   around its own landmarks (the kit's face analysis, the element's).
2. Open portrait: the generator renders it with the jaw dropped by --open canonical units (the
   test's open_mouth: points 56-58, 65-67 down by d, jaw 5-11 and 55, 59 by 0.7 d), or
   --photo PATH is taken as it is (a real open-mouthed face).
3. Its landmarks are found again; silence `neutral` = the generator with the target = those
   landmarks with the mouth closed (faceshape::close_mouth, reimplemented here; the element also
   lowers a smile beyond a neutral mouth's limits, faceshape::neutralise_smile, which is not
   reimplemented here: the test's open portrait measures 0.604 wide and the element narrows it by
   0.7%); `keep` = its own.
4. The opening (inner-lip gap over mouth width) of each rendering by the face analysis; the closed
   portrait's own for comparison. --out DIR writes the crops.

    PYTHONPATH=. .venv/bin/python diagnostics/neutral_mouth.py [--model M.onnx ...] [--out DIR]
"""
import argparse
import pathlib
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "l2f"))
import l2f_common as C  # noqa: E402
from talkingface_kit import canon, face  # noqa: E402

PORTRAIT = "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg"
UPPER_LIP_SHARE = 0.2
JAW_FOLLOW = [(4, 0.2), (5, 0.45), (6, 0.7), (7, 0.9), (8, 1.0), (9, 0.9), (10, 0.7), (11, 0.45), (12, 0.2)]


def close_mouth(p):
    """src/faceshape.rs close_mouth."""
    out = p.copy()
    u = p[45] - p[36]
    n = np.hypot(*u)
    down = np.array([-u[1] / n, u[0] / n])
    pairs = [(61, 67), (62, 66), (63, 65)]
    gaps = [max(float((p[j] - p[i]) @ down), 0.0) for i, j in pairs]
    mean = sum(gaps) / 3
    if mean <= 0:
        return out
    for (i, j), g in zip(pairs, gaps):
        out[i] += UPPER_LIP_SHARE * g * down
        out[j] -= (1 - UPPER_LIP_SHARE) * g * down
    out[49:54] += UPPER_LIP_SHARE * mean * down
    out[55:60] -= (1 - UPPER_LIP_SHARE) * mean * down
    for i, w in JAW_FOLLOW:
        out[i] -= (1 - UPPER_LIP_SHARE) * mean * w * down
    return out


def open_mouth(p, d):
    out = p.copy()
    out[[56, 57, 58, 65, 66, 67], 1] += d
    out[[5, 6, 7, 8, 9, 10, 11, 55, 59], 1] += 0.7 * d
    return out


class Gen:
    def __init__(self, path):
        o = ort.SessionOptions()
        o.intra_op_num_threads = 1
        o.inter_op_num_threads = 1
        self.s = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
        self.path = path

    def __call__(self, img, rlm, tlm):
        ref = (img.astype(np.float32) / 255).transpose(2, 0, 1)[None]
        f, = self.s.run(["frame"], {"reference": ref, "reference_landmarks": rlm[None].astype(np.float32),
                                    "target_landmarks": tlm[None].astype(np.float32)})
        return np.clip(f[0].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)

    def speed(self, img, rlm, tlm, runs=40):
        ts = []
        for _ in range(runs):
            t = time.process_time()
            self(img, rlm, tlm)
            ts.append(time.process_time() - t)
        return 1e3 * float(np.median(ts))


def analyse(an, rgb, s):
    """68 points of the crop's face in crop units, or None."""
    p = an.landmarks68(rgb)
    return None if p is None else (np.asarray(p) / s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", nargs="+", default=[str(C.ROOT / "models" / "landmarks2face.onnx")])
    ap.add_argument("--portrait", default=PORTRAIT)
    ap.add_argument("--photo", nargs="+", help="open-mouthed pictures, each used as the open portrait as it is")
    ap.add_argument("--open", type=float, default=0.08)
    ap.add_argument("--speech", type=float, default=0.05)
    ap.add_argument("--out")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--strip", help="write a figure: per picture, the mouth of the open portrait, then of "
                                    "silence neutral by each model")
    a = ap.parse_args()
    an = face.FaceAnalyzer()
    out = pathlib.Path(a.out) if a.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    gens = [Gen(p) for p in a.model]
    rows = []
    for pic in a.photo or [a.portrait]:
        rows.append(run(a, an, gens, pic, bool(a.photo), out))
    if a.strip:
        fig = np.concatenate(rows, 0)
        Image.fromarray(fig).save(a.strip, optimize=True)
        print(f"wrote {a.strip}: {pathlib.Path(a.strip).stat().st_size} bytes")


def mouth_crop(img, lm, size=(240, 132)):
    """The mouth region (2 mouth widths by 1.1) of a 256 crop, scaled to `size`."""
    c = lm[48:68].mean(0) * 256
    w = (lm[54, 0] - lm[48, 0]) * 256
    x0, y0 = int(c[0] - w), int(c[1] - 0.55 * w)
    x1, y1 = x0 + int(2 * w), y0 + int(1.1 * w)
    im = Image.fromarray(img).crop((x0, y0, x1, y1))
    return np.asarray(im.resize(size, Image.LANCZOS))


def run(a, an, gens, pic, as_is, out):
    s = 256
    src = np.asarray(Image.open(pic).convert("RGB"))
    p = an.landmarks68(src)
    sim = C.to_crop(p[36], p[45])
    crop = C.crop_image(src, sim, s)
    lm = analyse(an, crop, s)
    print(f"{pathlib.Path(pic).name}: opening as given {canon.mouth_opening(lm):.3f}")
    strip = []
    for g in gens:
        name = pathlib.Path(g.path).stem
        if as_is:
            opened, lo = crop, lm
        else:
            opened = g(crop, lm, open_mouth(lm, a.open))
            lo = analyse(an, opened, s)
        keep = g(opened, lo, lo)
        neutral = g(opened, lo, close_mouth(lo))
        speech = g(opened, lo, open_mouth(close_mouth(lo), a.speech))
        m = {k: canon.mouth_opening(analyse(an, v, s)) for k, v in
             (("open", opened), ("keep", keep), ("neutral", neutral), ("speech", speech))}
        line = " ".join(f"{k} {v:.3f}" for k, v in m.items())
        if a.speed:
            line += f"; {g.speed(opened, lo, close_mouth(lo)):.1f} ms CPU"
        print(f"  {name}: {line}")
        if out:
            Image.fromarray(np.concatenate([opened, keep, neutral, speech], 1)).save(out / f"{name}.png")
        if not strip:
            strip.append(mouth_crop(opened, lo))
        strip.append(mouth_crop(neutral, lo))
    sep = np.full((strip[0].shape[0], 4, 3), 255, np.uint8)
    row = np.concatenate([x for im in strip for x in (im, sep)][:-1], 1)
    return np.concatenate([row, np.full((4, row.shape[1], 3), 255, np.uint8)], 0)


if __name__ == "__main__":
    main()
