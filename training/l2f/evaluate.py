"""Self-reenactment measures of landmarks2face models, in the generator's 256 crop, with onnxruntime
(one thread): the generator alone, no paste-back, no GStreamer (examples/evaluate_landmarks2face.rs
measures the whole element on full frames).

Per clip: the reference is the first frame (the first good one), cut into the crop frame of the
model's talkingface.crop; frame t's own landmarks (the kit's face analysis, realdata's cache),
mapped into that crop frame, are the target; the true frame t is cut with the same crop. Measures
(frames 1..N-1, bad frames left out):
- PSNR (RGB) and SSIM (luma, Gaussian window 11, sigma 1.5, as the Rust example) over the face
  box (the reference's 68 points' bounding box, the brows raised by a fifth of its height) and the
  mouth box (frame t's true mouth points' bounding box, grown 1.5x about its centre);
- mouth LMD: the kit's face analysis (talkingface_kit.face.VideoTracker) on the generated crops
  against the same on the true crops, mean distance of the 20 mouth points in % of the true
  eye-corner distance.
Generators: the still reference ("still"), models/landmarks2face.onnx ("warp"), the learned one.

Clips: GRID s1's held-out test sentences (realdata.split, the first --s1 of them) and the four
unseen speakers of /work/shared/data/grid (s5, s20, s22, s32), all CC BY 4.0 (Cooke et al. 2006).

    python3 training/l2f/evaluate.py [--model models/landmarks2face_mouth.onnx] [--s1 20] [--figures]
"""
import argparse
import json
import pathlib
import time

import numpy as np
import onnx
import onnxruntime as ort

import l2f_common as C
from talkingface_kit import face, grid, realdata
from prepare import decode


def session(path):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    s = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return s, int(meta["talkingface.size"])


def gen(sess, ref, rlm, tlm):
    f, = sess.run(["frame"], {"reference": ref, "reference_landmarks": rlm, "target_landmarks": tlm})
    return np.clip(f[0].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)


def speed(path, runs=60):
    """Median ms per frame (N = 1) on one ONNX Runtime thread: wall clock and this process' CPU
    time (the machine is shared; CPU time leaves out the waits for a core)."""
    sess, s = session(path)
    rng = np.random.default_rng(0)
    mean = np.loadtxt(C.ROOT / "models" / "mean_face.txt").astype(np.float32)[None]
    feeds = []
    for k in range(8):
        t = mean.copy()
        t[0, [56, 57, 58, 65, 66, 67], 1] += 0.01 * k
        feeds.append({"reference": rng.random((1, 3, s, s), dtype=np.float32), "reference_landmarks": mean,
                      "target_landmarks": t})
    for f in feeds:
        sess.run(None, f)
    wall, cpu = [], []
    for i in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        sess.run(None, feeds[i % len(feeds)])
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"wall_ms": float(np.median(wall) * 1000), "cpu_ms": float(np.median(cpu) * 1000)}


def luma(a):
    return a.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def ssim_map(a, b):
    from scipy.ndimage import gaussian_filter
    la, lb = luma(a), luma(b)
    f = lambda x: gaussian_filter(x, 1.5, truncate=5 / 1.5, mode="nearest")
    ma, mb = f(la), f(lb)
    va, vb, cov = f(la * la) - ma * ma, f(lb * lb) - mb * mb, f(la * lb) - ma * mb
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return (2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2))


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-10))


def boxes(rlm, tlm, s):
    x0, y0 = rlm.min(0)
    x1, y1 = rlm.max(0)
    y0 -= 0.2 * (y1 - y0)
    fb = np.clip(np.round(np.array([x0, y0, x1, y1]) * s), 0, s).astype(int)
    m = tlm[48:68]
    c, half = (m.min(0) + m.max(0)) / 2, (m.max(0) - m.min(0)) / 2 * 1.5
    mb = np.clip(np.round(np.concatenate([c - half, c + half]) * s), 0, s).astype(int)
    return fb, mb


def digest(path):
    import hashlib
    return "none" if path is None else hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()[:12]


def tracks(tr, imgs):
    """The face analysis over a sequence: [n, 68, 2], NaN where no face."""
    out = np.full((len(imgs), 68, 2), np.nan)
    for i, c in enumerate(imgs):
        p = tr.process(c)
        if p is not None:
            out[i] = np.asarray(p, np.float64).reshape(68, 2)
    return out


def clips(n_s1):
    names = sorted(p.stem for p in (realdata.CACHE / "src" / "s1").glob("*.mpg"))
    role = realdata.split(names)
    test = [n for n in names if role[n] == "test"][:n_s1]
    out = [("s1", n, realdata.CACHE / "src" / "s1" / f"{n}.mpg") for n in test]
    for c, spk in realdata.SHARED.items():
        if spk != "s1":
            out.append((spk, c, grid.GRID_DIR / f"{c}.mpg"))
    return out


def crop_clip(frames, raw, bad, s):
    good = np.flatnonzero(~bad)
    r = int(good[0])
    sim = C.to_crop(raw[r, 36], raw[r, 45])
    lm = C.apply(sim, raw).astype(np.float32)
    crops = [C.crop_image(f, sim, s) for f in frames]
    return r, lm, crops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(C.ROOT / "models" / "landmarks2face_mouth.onnx"))
    ap.add_argument("--warp", default=str(C.ROOT / "models" / "landmarks2face.onnx"))
    ap.add_argument("--s1", type=int, default=20)
    ap.add_argument("--no-lmd", action="store_true")
    ap.add_argument("--baselines-only", action="store_true", help="measure the still frame and the warp only")
    ap.add_argument("--out", default=str(C.L2F / "eval.json"))
    a = ap.parse_args()
    t0 = time.time()
    kinds = ("still", "warp") if a.baselines_only else ("still", "warp", "learned")
    gens = {"warp": session(a.warp)}
    if not a.baselines_only:
        gens["learned"] = session(a.model)
    s = gens["warp"][1]
    assert all(g[1] == s for g in gens.values())
    load = open("/proc/loadavg").read().split()[:3]
    spd = {k: speed(p) for k, p in (("warp", a.warp), ("learned", a.model)) if k in gens}
    print("speed", json.dumps(spd), "load", load, flush=True)
    fa = None if a.no_lmd else face.FaceAnalyzer()
    cache = C.L2F / "evalcache"
    cache.mkdir(parents=True, exist_ok=True)
    res = []
    for spk, name, path in clips(a.s1):
        d = np.load(realdata.CACHE / "clips" / f"{spk}_{name}.npz")
        raw, bad = d["raw"].astype(np.float64), d["bad"].astype(bool)
        frames = decode(path)
        n = min(len(frames), len(raw))
        r, lm, crops = crop_clip(frames[:n], raw[:n], bad[:n], s)
        ref = crops[r].transpose(2, 0, 1)[None].astype(np.float32) / 255
        rlm = lm[r][None]
        idx = [t for t in range(n) if t != r and not bad[t]]
        rec = {"speaker": spk, "clip": name, "frames": len(idx)}
        true_pts = None
        if fa is not None:
            tp = cache / f"{spk}_{name}_true.npy"
            if tp.exists():
                true_pts = np.load(tp)
            else:
                tr = face.VideoTracker(fa)
                true_pts = tracks(tr, crops)
                np.save(tp, true_pts)
        for k in kinds:
            path_k = {"still": None, "warp": a.warp, "learned": a.model}[k]
            key = cache / f"{spk}_{name}_{k}_{digest(path_k)}_{'nolmd' if fa is None else 'lmd'}.json"
            if key.exists():       # the measures of this model file on this clip, from an earlier run
                rec[k] = json.loads(key.read_text())
                continue
            if k == "still":
                o = [crops[r]] * n
            else:
                o = [gen(gens[k][0], ref, rlm, lm[t][None]) for t in range(n)]
            fp, fs, mp, ms = [], [], [], []
            for t in idx:
                fb, mb = boxes(lm[r], lm[t], s)
                sm = ssim_map(o[t], crops[t])
                fp.append(psnr(o[t][fb[1]:fb[3], fb[0]:fb[2]], crops[t][fb[1]:fb[3], fb[0]:fb[2]]))
                fs.append(sm[fb[1]:fb[3], fb[0]:fb[2]].mean())
                mp.append(psnr(o[t][mb[1]:mb[3], mb[0]:mb[2]], crops[t][mb[1]:mb[3], mb[0]:mb[2]]))
                ms.append(sm[mb[1]:mb[3], mb[0]:mb[2]].mean())
            rec[k] = {"face_psnr": float(np.mean(fp)), "face_ssim": float(np.mean(fs)),
                      "mouth_psnr": float(np.mean(mp)), "mouth_ssim": float(np.mean(ms))}
            if fa is not None:
                pts = tracks(face.VideoTracker(fa), o)
                ds = []
                for t in idx:
                    p, q = pts[t], true_pts[t]
                    if np.isnan(p).any() or np.isnan(q).any():
                        continue
                    iod = np.linalg.norm(q[45] - q[36])
                    ds.append(np.linalg.norm(p[48:68] - q[48:68], axis=-1).mean() / iod * 100)
                rec[k]["mouth_lmd"] = float(np.mean(ds)) if ds else None
            key.write_text(json.dumps(rec[k]))
        res.append(rec)
        print(json.dumps(rec), flush=True)
    summary = {}
    for group, sel in (("s1_test", lambda r: r["speaker"] == "s1"), ("unseen", lambda r: r["speaker"] != "s1")):
        rs = [r for r in res if sel(r)]
        if not rs:
            continue
        summary[group] = {"clips": len(rs)}
        for k in kinds:
            summary[group][k] = {m: float(np.mean([r[k][m] for r in rs if r[k].get(m) is not None]))
                                 for m in rs[0][k]}
    out = {"model": a.model, "size": s, "speed": spd, "loadavg_at_start": load,
           "loadavg_at_end": open("/proc/loadavg").read().split()[:3], "clips": res, "summary": summary,
           "seconds": round(time.time() - t0)}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
