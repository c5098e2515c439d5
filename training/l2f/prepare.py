"""Training data for the learned mouth stage: GRID s1 clips (CC BY 4.0, Cooke et al. 2006) cut into
the generator's crop frame, cached as uint8 under ~/.cache/talkingface/l2f/.

For each usable clip (landmarks from ~/.cache/talkingface/realdata/clips/s1_<clip>.npz, made by
`training/run.sh realdata` with the kit's face analysis, the one the element uses):
- the reference is the clip's good frame with the most closed mouth (inner-lip gap / width);
- the crop frame is the reference's (eye corners at the shipped model's talkingface.crop), so
  target frames are cut in the reference's frame as the element does (the head's motion stays in
  the target landmarks);
- K target frames (seeded, good frames only, other than the reference), each with the shipped
  warp generator's unpainted warp of the reference to the target's landmarks (onnxruntime).

A clip is skipped with a reason (counted in summary.json): no landmarks file, a video that does not
decode, too few frames, no face (all frames bad), too many bad frames (> 10%), eye corners that
coincide. Split: the kit's (talkingface_kit.realdata.split): train and val clips are prepared;
the test sentences stay held out (evaluate.py cuts them itself).

    python3 training/l2f/prepare.py [--clips N] [--per-clip K] [--size 128] [--seed 0] [--open-refs]
"""
import argparse
import json
import subprocess
import time

import numpy as np

import l2f_common as C
from talkingface_kit import grid, realdata

MAX_BAD = 0.10


def decode(path):
    """RGB frames [N, H, W, 3] uint8 (ffmpeg of imageio-ffmpeg); ValueError if it does not decode."""
    try:
        v = subprocess.run([grid.ffmpeg(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
                            "-"], check=True, capture_output=True, timeout=120).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as e:
        raise ValueError(f"corrupt: {str(e)[:60]}") from None
    n = len(v) // (grid.H * grid.W * 3)
    if n == 0 or len(v) % (grid.H * grid.W * 3):
        raise ValueError(f"corrupt: {len(v)} bytes")
    return np.frombuffer(v, np.uint8).reshape(n, grid.H, grid.W, 3)


def choose(raw, bad, k, rng, most="closed"):
    """(reference index, target indices) or ValueError: the most closed (most="open": the most open)
    good frame, K other good frames."""
    if bad.all():
        raise ValueError("no face")
    if bad.mean() > MAX_BAD:
        raise ValueError("bad frames")
    good = np.flatnonzero(~bad)
    op = C.opening(raw[good])
    ref = int(good[np.argmax(op) if most == "open" else np.argmin(op)])
    others = good[good != ref]
    if others.size == 0:
        raise ValueError("too few frames")
    tg = np.sort(rng.choice(others, size=min(k, others.size), replace=False))
    return ref, tg


def cut_clip(frames, raw, bad, k, size, rng, sess, most="closed"):
    ref, tg = choose(raw, bad, k, rng, most)
    if len(frames) < max(tg.max(), ref) + 1:
        raise ValueError("too few frames")
    if np.linalg.norm(raw[ref, 45] - raw[ref, 36]) < 4:
        raise ValueError("eye corners coincide")
    sim = C.to_crop(raw[ref, 36], raw[ref, 45])
    lm = C.apply(sim, raw.astype(np.float64)).astype(np.float32)       # [75, 68, 2] crop units
    ref_img = C.crop_image(frames[ref], sim, size)
    tgt_img = np.stack([C.crop_image(frames[i], sim, size) for i in tg])
    refs = np.repeat(ref_img[None].transpose(0, 3, 1, 2).astype(np.float32) / 255, len(tg), 0)
    warped, _, _ = C.run_warp(sess[0], sess[1], refs, np.repeat(lm[ref][None], len(tg), 0), lm[tg])
    warped = np.clip(warped.transpose(0, 2, 3, 1) * 255 + 0.5, 0, 255).astype(np.uint8)
    return dict(ref=ref_img, ref_lm=lm[ref], tgt=tgt_img, tgt_lm=lm[tg], warp=warped,
                ref_index=np.int32(ref), tgt_index=tg.astype(np.int32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=0, help="train clips to prepare (0: all)")
    ap.add_argument("--val", type=int, default=20)
    ap.add_argument("--per-clip", type=int, default=10)
    ap.add_argument("--size", type=int, default=C.S_TRAIN)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--open-refs", action="store_true",
                    help="also cut every clip with its most open frame as the reference (parts train_open, "
                         "val_open): the stage learns to close a mouth the reference shows open")
    a = ap.parse_args()
    t0 = time.time()
    out = C.L2F / f"s{a.size}"
    out.mkdir(parents=True, exist_ok=True)
    vdir = realdata.CACHE / "src" / "s1"
    names = sorted(p.stem for p in vdir.glob("*.mpg"))
    role = realdata.split(names)
    rng = np.random.default_rng(a.seed)
    train = [n for n in names if role[n] == "train"]
    val = [n for n in names if role[n] == "val"][:a.val]
    rng.shuffle(train)
    if a.clips:
        train = train[:a.clips]
    sess = C.warp_session(a.size)
    skipped, done = {}, {"train": [], "val": []}
    jobs = [("val", val, "closed"), ("train", train, "closed")]
    if a.open_refs:
        done.update(train_open=[], val_open=[])
        jobs += [("val_open", val, "open"), ("train_open", train, "open")]
    for part, clips, most in jobs:
        for i, name in enumerate(clips):
            key = name + ("_open" if most == "open" else "")
            dst = out / f"s1_{key}.npz"
            if dst.exists():
                done[part].append(key)
                continue
            try:
                lmf = realdata.CACHE / "clips" / f"s1_{name}.npz"
                if not lmf.exists():
                    raise ValueError("no landmarks")
                d = np.load(lmf)
                raw, bad = d["raw"].astype(np.float64), d["bad"].astype(bool)
                frames = decode(vdir / f"{name}.mpg")
                crng = np.random.default_rng([a.seed, names.index(name)])
                rec = cut_clip(frames, raw, bad, a.per_clip, a.size, crng, sess, most)
            except ValueError as e:
                r = str(e).split(":")[0] + ("" if most == "closed" else " (open references)")
                skipped[r] = skipped.get(r, 0) + 1
                continue
            tmp = dst.with_suffix(".tmp.npz")
            np.savez(tmp, **rec)
            tmp.rename(dst)
            done[part].append(key)
            if i % 25 == 0:
                print(f"prepare: {part} {i}/{len(clips)} {time.time() - t0:.0f}s", flush=True)
    summary = {"source": "GRID s1 (CC BY 4.0, Cooke et al. 2006)", "size": a.size, "seed": a.seed,
               "per_clip": a.per_clip, "train": len(done["train"]), "val": len(done["val"]),
               "skipped": skipped, "seconds": round(time.time() - t0, 1),
               "crop": "eyes:0.3,0.333333,0.7,0.333333 (the reference frame's)",
               "reference": "most closed good frame of the clip"
                            + ("; and (parts *_open) the most open" if a.open_refs else "")}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "clips.json").write_text(json.dumps(done))
    print("prepare:", json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
