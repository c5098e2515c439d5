"""Side-by-side pictures of the warp generator and the learned mouth stage (docs/images/):

- l2f_mouth_unseen.png: an unseen GRID speaker (s20, brbk7n; CC BY 4.0, Cooke et al. 2006),
  self-reenactment from the first frame, the three most open frames: rows real / warp / learned;
- l2f_mouth_portrait.png: media/portrait.jpg (public domain), in colour and in grey scale, driven
  by the same clip's mouth motion (its landmarks' change from its first frame, in the crop frame):
  rows warp / learned.

    python3 training/l2f/figures.py [--model models/landmarks2face_mouth.onnx]
"""
import argparse

import numpy as np
from PIL import Image, ImageDraw

import l2f_common as C
import evaluate as E
from talkingface_kit import face, grid, realdata
from prepare import decode


def label(img, text):
    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 7 * len(text) + 6, 14], fill=(0, 0, 0))
    d.text((3, 2), text, fill=(255, 255, 255))
    return np.asarray(im)


def open_frames(lm, bad, ref, k=3, gap=8):
    """The k most open good frames other than the reference, at least gap frames apart, in time order."""
    op = C.opening(lm)
    op[bad] = -1
    op[ref] = -1
    ts = []
    for t in np.argsort(-op).tolist():
        if all(abs(t - u) >= gap for u in ts):
            ts.append(t)
        if len(ts) == k:
            break
    return sorted(ts)


def shared_clip(clip, s):
    """A clip of ../shared/data/grid cut into the crop frame of its first good frame, as evaluate.py
    does: (speaker, bad [n], reference index, landmarks [n, 68, 2] crop units, crops [n])."""
    spk = realdata.SHARED[clip]
    d = np.load(realdata.CACHE / "clips" / f"{spk}_{clip}.npz")
    raw, bad = d["raw"].astype(np.float64), d["bad"].astype(bool)
    frames = decode(grid.GRID_DIR / f"{clip}.mpg")
    n = min(len(frames), len(raw))
    r, lm, crops = E.crop_clip(frames[:n], raw[:n], bad[:n], s)
    return spk, bad[:n], r, lm, crops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(C.ROOT / "models" / "landmarks2face_mouth.onnx"))
    ap.add_argument("--clip", default="brbk7n")
    a = ap.parse_args()
    warp, s = E.session(C.ROOT / "models" / "landmarks2face.onnx")
    learned, _ = E.session(a.model)
    spk, bad, r, lm, crops = shared_clip(a.clip, s)
    ts = open_frames(lm, bad, r)
    ref = crops[r].transpose(2, 0, 1)[None].astype(np.float32) / 255
    rows = [[label(crops[t], f"real {spk} t={t}") for t in ts],
            [label(E.gen(warp, ref, lm[r][None], lm[t][None]), "warp") for t in ts],
            [label(E.gen(learned, ref, lm[r][None], lm[t][None]), "learned mouth") for t in ts]]
    Image.fromarray(np.concatenate([np.concatenate(rw, 1) for rw in rows], 0)).save(
        C.ROOT / "docs" / "images" / "l2f_mouth_unseen.png", optimize=True)

    pic = np.asarray(Image.open(C.ROOT / "media" / "portrait.jpg").convert("RGB"))
    fa = face.FaceAnalyzer()
    rows = []
    for grey in (False, True):
        img = pic
        if grey:
            y = (pic.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) + 0.5).astype(np.uint8)
            img = np.repeat(y[..., None], 3, -1)
        p = fa.landmarks68(img)
        sim = C.to_crop(p[36], p[45])
        plm = C.apply(sim, np.asarray(p, np.float64)).astype(np.float32)
        pc = C.crop_image(img, sim, s)
        pref = pc.transpose(2, 0, 1)[None].astype(np.float32) / 255
        tw, tl = [], []
        for t in ts:
            tgt = (plm + (lm[t] - lm[r]))[None]
            tw.append(label(E.gen(warp, pref, plm[None], tgt), "warp" + (" (grey)" if grey else "")))
            tl.append(label(E.gen(learned, pref, plm[None], tgt), "learned mouth" + (" (grey)" if grey else "")))
        rows += [tw, tl]
    Image.fromarray(np.concatenate([np.concatenate(rw, 1) for rw in rows], 0)).save(
        C.ROOT / "docs" / "images" / "l2f_mouth_portrait.png", optimize=True)
    print("figures: docs/images/l2f_mouth_unseen.png, docs/images/l2f_mouth_portrait.png; frames", ts)


if __name__ == "__main__":
    main()
