"""Side-by-side mouth close-ups of landmarks2face generators (docs/images/l2f_interior.jpg):

- an unseen GRID speaker (default s20, brbk7n; CC BY 4.0, Cooke et al. 2006), self-reenactment
  from the clip's first good frame, its most open frames: the real frame, then each model;
- portraits unlike GRID (media/portrait.jpg, public domain, in colour, in grey scale and made
  painting-like with a cool palette, and any --portrait given), driven by the same clip's mouth motion (its landmarks' change from the
  reference frame, in the crop frame): each model;
- with --openings, media/portrait.jpg with its mouth opened further by the landmarks alone (lower
  lip and jaw down by 0.02 to 0.08 crop units): each model.

Each tile is the mouth region of the 256 crop, enlarged 2x.

    python3 training/l2f/interior_figure.py --model painted=PAINTED.onnx \\
        --model real=models/landmarks2face.onnx [--clip brbk7n] [--portrait P ...] [--openings] \\
        --out docs/images/l2f_interior.jpg
"""
import argparse

import numpy as np
from PIL import Image

import l2f_common as C
import evaluate as E
from figures import label, open_frames, shared_clip
from talkingface_kit import face


def mouth_tile(img, lm, s):
    """The mouth region (centre of points 48-67, 0.36 x 0.24 of the crop) enlarged 2x."""
    c = lm[48:68].mean(0) * s
    w, h = int(0.36 * s), int(0.24 * s)
    x0 = int(np.clip(round(c[0] - w / 2), 0, s - w))
    y0 = int(np.clip(round(c[1] - h / 2), 0, s - h))
    t = Image.fromarray(img[y0:y0 + h, x0:x0 + w]).resize((2 * w, 2 * h), Image.BICUBIC)
    return np.asarray(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", required=True, help="LABEL=PATH, in row order")
    ap.add_argument("--clip", default="brbk7n")
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--portrait", action="append", default=[])
    ap.add_argument("--openings", action="store_true", help="add rows of media/portrait.jpg opened by the landmarks alone")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    models = [(m.split("=", 1)[0], E.session(m.split("=", 1)[1])) for m in a.model]
    s = models[0][1][1]
    spk, bad, r, lm, crops = shared_clip(a.clip, s)
    ts = open_frames(lm, bad, r, k=a.frames, gap=6)
    ref = crops[r].transpose(2, 0, 1)[None].astype(np.float32) / 255
    rows = [[label(mouth_tile(crops[t], lm[t], s), f"real {spk} t={t}") for t in ts]]
    for name, (sess, _) in models:
        rows.append([label(mouth_tile(E.gen(sess, ref, lm[r][None], lm[t][None]), lm[t], s), name) for t in ts])
    fa = face.FaceAnalyzer()
    pics = [("portrait", np.asarray(Image.open(C.ROOT / "media" / "portrait.jpg").convert("RGB")))]
    y = (pics[0][1].astype(np.float64) @ np.array([0.299, 0.587, 0.114]) + 0.5).astype(np.uint8)
    pics.append(("grey", np.repeat(y[..., None], 3, -1)))
    # Painting-like: flattened brush areas (mode filter), fewer tones, a cool green-blue palette.
    from PIL import ImageFilter, ImageOps
    art = ImageOps.posterize(Image.fromarray(pics[0][1]).filter(ImageFilter.ModeFilter(5)), 4)
    art = np.asarray(art).astype(np.float64) * np.array([0.75, 0.95, 1.1]) + np.array([0, 10, 30])
    pics.append(("painting-like", np.clip(art, 0, 255).astype(np.uint8)))
    pics += [(p.rsplit("/", 1)[-1][:12], np.asarray(Image.open(p).convert("RGB"))) for p in a.portrait]
    for pname, img in pics:
        p = fa.landmarks68(img)
        if p is None:
            raise SystemExit(f"interior_figure: error: no face in {pname}")
        sim = C.to_crop(p[36], p[45])
        plm = C.apply(sim, np.asarray(p, np.float64)).astype(np.float32)
        pref = C.crop_image(img, sim, s).transpose(2, 0, 1)[None].astype(np.float32) / 255
        for name, (sess, _) in models:
            row = []
            for t in ts:
                tgt = plm + (lm[t] - lm[r])
                row.append(label(mouth_tile(E.gen(sess, pref, plm[None], tgt[None]), tgt, s), f"{pname} {name}"))
            rows.append(row)
    if a.openings:
        # media/portrait.jpg with its mouth opened by the landmarks alone (lower lip and jaw down by
        # d crop units, as the Rust tests' open_mouth), one column per opening.
        img = pics[0][1]
        p = fa.landmarks68(img)
        sim = C.to_crop(p[36], p[45])
        plm = C.apply(sim, np.asarray(p, np.float64)).astype(np.float32)
        pref = C.crop_image(img, sim, s).transpose(2, 0, 1)[None].astype(np.float32) / 255
        ds = np.linspace(0.02, 0.08, len(ts))
        for name, (sess, _) in models:
            row = []
            for d in ds:
                tgt = plm.copy()
                tgt[[56, 57, 58, 65, 66, 67], 1] += d
                tgt[[5, 6, 7, 8, 9, 10, 11, 55, 59], 1] += 0.7 * d
                row.append(label(mouth_tile(E.gen(sess, pref, plm[None], tgt[None]), tgt, s), f"{name} open +{d:.2f}"))
            rows.append(row)
    Image.fromarray(np.concatenate([np.concatenate(rw, 1) for rw in rows], 0)).save(a.out, optimize=True, quality=90)
    print(f"interior_figure: {a.out}; clip {a.clip} frames {ts}")


if __name__ == "__main__":
    main()
