"""Real mouth interiors for the default landmarks2face generator: a bank of GRID s1 mouth interiors
(CC BY 4.0, Cooke et al. 2006), one per mouth opening, that training/make_warp_generator.py bakes
into models/landmarks2face.onnx in place of a painted cavity.

Each good frame of s1's training clips (talkingface_kit.realdata.split; the kit's face analysis,
realdata's cache, the one the element uses) is put in the crop frame (its own eye corners at the
model's talkingface.crop). Its inner mouth is resampled into a fixed canonical grid (u, v): u
across the mouth from corner 60 (u = 0) to corner 64 (u = 1), v from the upper inner lip line
(60-61-62-63-64, piecewise linear in x; v = 0) down to the lower one (60-67-66-65-64; v = 1). The
same (u, v) map is what the generator computes per pixel at run time (interior_uv below, mirrored
in the ONNX graph), so a bank texture lands where it was taken from: upper teeth under the upper
lip, the tongue and lower teeth above the lower lip.

The frames are grouped by opening (inner-lip gap 61-67, 62-66, 63-65 along y over the mouth width
48-54 along x, in the crop frame); level k holds the frames within half a step of LEVELS[k], at
most PER_LEVEL of them, spread over clips (seeded), and its texture is their per-pixel median
(sharp where the frames agree: teeth, the cavity's dark; the tongue averaged). The generator
blends the two levels around the target's opening, so the interior changes smoothly with it.

Openings beyond the widest level: the widest level's rows above its darkest row (dark_row) stay
at their size under the upper lip, the rows below at theirs above the lower lip, and the space
between is filled from the darkest row towards the bank's dark (the 5th percentile colour of the
widest level): a real mouth opened wider shows more cavity, not taller teeth.

Colour: the skin around the mouth (SKIN points, below) of every frame used is recorded; its
median is the bank's reference colour, against which the generator matches the portrait's
(see make_warp_generator: the cast fully, the brightness partly).

    python3 training/l2f/exemplars.py [--clips 0] [--seed 0] [--out ~/.cache/talkingface/l2f/exemplars.npz] [--figure F]

Writes the bank (npz: tex [K, 3, H, W] float32 in [0, 1], levels [K], skin [3], split, dark [3], counts [K]) and
prints a summary; the bank is data and is not committed (make_warp_generator.py reads it, and the
bank's provenance goes into the model's metadata and models/ATTRIBUTION-landmarks2face.txt).
"""
import argparse
import json
import pathlib
import time

import numpy as np

import l2f_common as C
from talkingface_kit import realdata
from prepare import decode

H_TEX, W_TEX = 24, 48          # canonical interior grid (v rows, u columns)
LEVELS = np.round(0.03 + 0.03 * np.arange(10), 4)   # opening levels 0.03 .. 0.30
PER_LEVEL = 60
PICK = 12
SHARPEN = 1.0
UPPER = [60, 61, 62, 63, 64]
LOWER = [60, 67, 66, 65, 64]
# Skin around the mouth, as midpoints of landmark pairs: both cheeks beside the mouth corners, the
# chin below the lower lip, the skin between nose and upper lip.
SKIN = [(4, 48), (12, 54), (8, 57), (33, 51)]
OUT = C.L2F / "exemplars.npz"


def opening(lm):
    """Inner-lip gap along y over mouth width along x (crop frame), [...] from [..., 68, 2]."""
    gap = (lm[..., [67, 66, 65], 1] - lm[..., [61, 62, 63], 1]).mean(-1)
    return gap / np.maximum(lm[..., 54, 0] - lm[..., 48, 0], 1e-6)


def lip_line(lm, idx, x):
    """Piecewise-linear y of the lip line through points idx (left to right) at x; clamped at the
    ends; segments of zero or negative width contribute their full step (as in the graph)."""
    xs, ys = lm[idx, 0], lm[idx, 1]
    y = np.full_like(x, ys[0])
    for k in range(len(idx) - 1):
        t = np.clip((x - xs[k]) / max(xs[k + 1] - xs[k], 1e-4), 0.0, 1.0)
        y = y + t * (ys[k + 1] - ys[k])
    return y


def interior_uv(lm, u, v):
    """Crop-frame positions of canonical interior points (u, v) for landmarks lm [68, 2]."""
    x = lm[60, 0] + u * (lm[64, 0] - lm[60, 0])
    up, lo = lip_line(lm, UPPER, x), lip_line(lm, LOWER, x)
    return np.stack([x, up + v * (lo - up)], -1)


def bilinear(img, x, y):
    """img [H, W, 3] uint8 at continuous image positions (pixel centres at +0.5) -> float [.., 3]."""
    h, w = img.shape[:2]
    x = np.clip(x - 0.5, 0, w - 1)
    y = np.clip(y - 0.5, 0, h - 1)
    x0 = np.floor(x).astype(np.int64).clip(0, w - 2)
    y0 = np.floor(y).astype(np.int64).clip(0, h - 2)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    f = img.astype(np.float32) / 255.0
    return (f[y0, x0] * (1 - fx) * (1 - fy) + f[y0, x0 + 1] * fx * (1 - fy)
            + f[y0 + 1, x0] * (1 - fx) * fy + f[y0 + 1, x0 + 1] * fx * fy)


def to_image(sim, pts):
    s, t = sim
    z = (pts[..., 0] + 1j * pts[..., 1] - t) / s
    return z.real, z.imag


def frame_texture(frame, sim, lm):
    """(texture [3, H, W], skin colour [3]) of one frame; lm in the crop frame."""
    v, u = np.meshgrid((np.arange(H_TEX) + 0.5) / H_TEX, (np.arange(W_TEX) + 0.5) / W_TEX, indexing="ij")
    x, y = to_image(sim, interior_uv(lm, u, v))
    tex = bilinear(frame, x, y).transpose(2, 0, 1)
    sp = np.array([(lm[a] + lm[b]) / 2 for a, b in SKIN])
    # The skin sample is a 5x5 crop-pixel patch mean at 256 (as the graph's blur), approximated by
    # a 5x5 grid of samples 1/256 apart.
    d = (np.arange(5) - 2) / 256.0
    dy, dx = np.meshgrid(d, d, indexing="ij")
    pts = sp[:, None, None, :] + np.stack([dx, dy], -1)[None]
    sx, sy = to_image(sim, pts)
    skin = bilinear(frame, sx, sy).reshape(-1, 3).mean(0)
    return tex, skin


def typical(stack, pick):
    """The per-pixel median of the `pick` textures nearest (L2) to the median of all of them: the
    median alone blurs the teeth of frames that disagree; the nearest ones agree, so their median
    stays sharp and is still not one frame's."""
    med = np.median(stack, 0)
    if pick <= 0 or pick >= len(stack):
        return med
    d = ((stack - med) ** 2).reshape(len(stack), -1).sum(1)
    return np.median(stack[np.argsort(d)[:pick]], 0)


def sharpen(tex, amount):
    """Unsharp mask (Gaussian sigma 1 texel) of a texture [3, H, W], clipped to [0, 1]: the
    medians and GRID's MPEG-2 frames are soft, and the texture is enlarged on a portrait."""
    if amount <= 0:
        return tex
    from scipy.ndimage import gaussian_filter
    blur = gaussian_filter(tex, (0, 1.0, 1.0), mode="nearest")
    return np.clip(tex + amount * (tex - blur), 0.0, 1.0)


def dark_row(tex):
    """Where the widest level's interior is darkest (v, the centre of the darkest row between 0.1
    and 0.6 of the height, in the middle half of the width): the cavity between the upper lip and
    the lower teeth. The generator opens a mouth wider than the bank's widest level there, keeping
    the rows above and below at their size."""
    h = tex.shape[1]
    lum = tex.mean(0)[:, tex.shape[2] // 4: 3 * tex.shape[2] // 4].mean(1)
    lo, hi = int(0.1 * h), int(np.ceil(0.6 * h))
    return (lo + int(np.argmin(lum[lo:hi])) + 0.5) / h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=0, help="training clips to read (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sharpen", type=float, default=SHARPEN, help="unsharp mask amount (0: none)")
    ap.add_argument("--pick", type=int, default=PICK, help="textures a level's median is taken of (0: all)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--figure", help="write the bank as a PNG strip (levels left to right)")
    a = ap.parse_args()
    t0 = time.time()
    vdir = realdata.CACHE / "src" / "s1"
    names = sorted(p.stem for p in vdir.glob("*.mpg"))
    if not names:
        raise SystemExit(f"exemplars: error: no GRID s1 videos in {vdir} (run training/run.sh realdata)")
    role = realdata.split(names)
    train = [n for n in names if role[n] == "train"]
    rng = np.random.default_rng(a.seed)
    rng.shuffle(train)
    if a.clips:
        train = train[:a.clips]
    step = LEVELS[1] - LEVELS[0]
    # First pass: the candidate frames of each level, from the landmarks alone.
    cand = [[] for _ in LEVELS]
    skipped = {}
    for name in train:
        f = realdata.CACHE / "clips" / f"s1_{name}.npz"
        if not f.exists():
            skipped["no landmarks"] = skipped.get("no landmarks", 0) + 1
            continue
        d = np.load(f)
        raw, bad = d["raw"].astype(np.float64), d["bad"].astype(bool)
        for t in np.flatnonzero(~bad):
            if np.linalg.norm(raw[t, 45] - raw[t, 36]) < 4:
                continue
            sim = C.to_crop(raw[t, 36], raw[t, 45])
            lm = C.apply(sim, raw[t])
            k = int(np.argmin(np.abs(LEVELS - opening(lm))))
            if abs(opening(lm) - LEVELS[k]) <= step / 2:
                cand[k].append((name, int(t)))
    # Choose at most PER_LEVEL frames a level, at most 2 per clip, seeded.
    chosen = {}
    for k, c in enumerate(cand):
        order = rng.permutation(len(c))
        per_clip, picked = {}, []
        for i in order:
            name, t = c[i]
            if per_clip.get(name, 0) >= 2:
                continue
            per_clip[name] = per_clip.get(name, 0) + 1
            picked.append((name, t))
            if len(picked) >= PER_LEVEL:
                break
        for name, t in picked:
            chosen.setdefault(name, []).append((k, t))
    texs = [[] for _ in LEVELS]
    skins = []
    for i, (name, items) in enumerate(sorted(chosen.items())):
        try:
            frames = decode(vdir / f"{name}.mpg")
        except ValueError:
            skipped["corrupt"] = skipped.get("corrupt", 0) + 1
            continue
        raw = np.load(realdata.CACHE / "clips" / f"s1_{name}.npz")["raw"].astype(np.float64)
        for k, t in items:
            if t >= len(frames):
                continue
            sim = C.to_crop(raw[t, 36], raw[t, 45])
            tex, skin = frame_texture(frames[t], sim, C.apply(sim, raw[t]))
            texs[k].append(tex)
            skins.append(skin)
    counts = np.array([len(t) for t in texs])
    if (counts == 0).any():
        raise SystemExit(f"exemplars: error: no frames for opening levels {LEVELS[counts == 0].tolist()}")
    bank = np.stack([sharpen(typical(np.stack(t), a.pick), a.sharpen) for t in texs]).astype(np.float32)
    skin = np.median(np.stack(skins), 0).astype(np.float32)
    split = dark_row(bank[-1])
    dark = np.percentile(bank[-1].reshape(3, -1), 5, axis=1).astype(np.float32)
    out = pathlib.Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, tex=bank, split=np.float32(split), dark=dark, pick=np.int64(a.pick), sharpen=np.float32(a.sharpen), levels=LEVELS.astype(np.float32), skin=skin, counts=counts,
             seed=np.int64(a.seed), clips=np.int64(len(train)))
    summary = {"source": "GRID s1 training clips (CC BY 4.0, Cooke et al. 2006)", "clips_read": len(train),
               "levels": LEVELS.tolist(), "frames_per_level": counts.tolist(),
               "candidates_per_level": [len(c) for c in cand], "skin_rgb": skin.round(4).tolist(), "split": round(float(split), 4), "dark_rgb": dark.round(4).tolist(),
               "skipped": skipped, "seconds": round(time.time() - t0, 1), "out": str(out)}
    print("exemplars:", json.dumps(summary), flush=True)
    if a.figure:
        from PIL import Image
        strip = np.concatenate([np.pad(b.transpose(1, 2, 0), ((2, 2), (2, 2), (0, 0)), constant_values=1.0)
                                for b in bank], 1)
        im = Image.fromarray(np.clip(strip * 255 + 0.5, 0, 255).astype(np.uint8))
        im.resize((im.width * 4, im.height * 4), Image.NEAREST).save(a.figure)


if __name__ == "__main__":
    main()
