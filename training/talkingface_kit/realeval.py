"""Lip sync against real talking faces: GRID s1's 100 held-out sentences and the four other speakers of
the shared clips (s5, s20, s22, s32), for any audio2landmarks ONNX model, with the energy and static
baselines.

python -m talkingface_kit.realeval [LABEL=]MODEL.onnx ...     (training/run.sh realeval)
    REALEVAL_SETS=val python -m talkingface_kit.realeval ...  (s1's 50 validation sentences only: for choosing)

Truth: realdata's landmarks (the kit's face analysis), eye-pinned, identity removed (the clip's
neutral face replaced by models/mean_face.txt). Per clip, then averaged over the clips of a set:
- r: Pearson r of the mouth opening (inner-lip gap / outer mouth width), predicted against true, at
  lag 0 over all frames of the clip;
- best lag: the lag (frames, + = the model is late) that maximises the set's mean r, in -4..+4;
- articulation: std of the predicted opening over std of the true opening, pooled over the set's clips
  (sqrt of the summed variances' ratio; 1 = as much motion as the speakers make);
- LMD: mean distance of the 20 mouth points (canonical units; outer eye corners 0.4 apart);
- jitter: mean |second difference| of the opening over its std, predicted over true (1 = as smooth as
  the real mouth; above 1 = jittery).
Baselines: 'energy' (the RMS envelope of each 40 ms frame, scaled by least squares on s1's training
clips, moving the mouth along the teacher's opening direction) and 'static' (the mean face).
"""
from __future__ import annotations

import os
import pathlib
import pickle
import sys

import numpy as np

from . import canon, realdata
from .evaluate import Model, rms_env

KIT = pathlib.Path(__file__).resolve().parents[1]
LAGS = range(-4, 5)


def sets(items):
    if os.environ.get("REALEVAL_SETS") == "val":  # s1's validation sentences only: for choosing between models
        val = [it for it in items if it["speaker"] == "s1" and it["role"] == "val"]
        return [(f"GRID s1, {len(val)} validation sentences", val)]
    s1 = [it for it in items if it["speaker"] == "s1" and it["role"] == "test"]
    other = [it for it in items if it["speaker"] != "s1"]
    return [(f"GRID s1, {len(s1)} held-out sentences", s1),
            (f"GRID s5/s20/s22/s32, {len(other)} shared clips (speakers never in training)", other)]


def lag_r(p, t, k):
    """r with the prediction shifted k frames earlier (k > 0: the model is late), edges trimmed."""
    n = len(t)
    if k >= 0:
        a, b = p[k:], t[: n - k]
    else:
        a, b = p[: n + k], t[-k:]
    return canon.pearson(a[4:-4], b[4:-4])


def rough(o):
    return np.abs(np.diff(o, 2)).mean() / (o.std() + 1e-9)


def measure(pred_lm, items):
    """Per set figures of predicted landmarks (list aligned with items)."""
    rs, arts, lmds, jit, per = [], [], [], [], []
    lagm = np.zeros(len(LAGS))
    for lm, it in zip(pred_lm, items):
        true = it["canon"].astype(np.float64)
        to = canon.mouth_opening(true)
        po = canon.mouth_opening(lm)
        lmds.append(canon.mouth_lmd(lm, true))
        per.append((it["speaker"], it["name"], float(po.std()), float(to.std())))
        if po.std() < 1e-9:
            continue
        rs.append(canon.pearson(po, to))
        arts.append((po.var(), to.var()))
        jit.append(rough(po) / rough(to))
        lagm += [lag_r(po, to, k) for k in LAGS]
    if not rs:
        return {"r": np.nan, "lag": None, "art": 0.0, "lmd": float(np.mean(lmds)), "jit": np.nan, "per": per}
    art = float(np.sqrt(sum(a for a, _ in arts) / sum(b for _, b in arts)))  # pooled over the set's clips
    return {"r": float(np.mean(rs)), "lag": int(list(LAGS)[int(np.argmax(lagm))]), "art": art,
            "lmd": float(np.mean(lmds)), "jit": float(np.mean(jit)), "per": per}


def energy_fit(train, mf, d_open):
    """Least-squares gain of the RMS envelope onto the mouth displacement along d_open (s1 training)."""
    num = den = 0.0
    M = canon.MOUTH
    for it in train:
        n = len(it["canon"])
        env = rms_env(it["audio"].astype(np.float32) / 32767, n)
        disp = it["canon"][:, M] - mf[M]
        num += float(np.einsum("t,tpc,pc->", env, disp, d_open[M]))
        den += float((env ** 2).sum() * (d_open[M] ** 2).sum())
    return num / den


def predict(model, items):
    out = []
    for it in items:
        lm, _ = model(it["audio"].astype(np.float32) / 32767, len(it["canon"]))
        out.append(lm.astype(np.float64))
    return out


def main(argv):
    sys.path.insert(0, str(KIT / "a2l"))
    import targets as T
    items = pickle.load(open(realdata.CACHE / "corpus.pkl", "rb"))
    mf = canon.load_mean_face()
    train = [it for it in items if it["speaker"] == "s1" and it["role"] == "train"]
    g = energy_fit(train[::4], mf, T.D_OPEN.astype(np.float64))
    models = []
    for a in argv:
        label, _, path = a.rpartition("=")
        models.append((label or pathlib.Path(path).stem, path))
    summ = {}
    for name, its in sets(items):
        rows = []
        for label, path in models:
            m = Model(path)
            rows.append((f"{label} (lookahead {m.d})", measure(predict(m, its), its)))
        env = [mf + (g * rms_env(it["audio"].astype(np.float32) / 32767, len(it["canon"])))[:, None, None] * T.D_OPEN
               for it in its]
        rows.append(("energy baseline", measure(env, its)))
        rows.append(("static mouth (mean face)", measure([np.broadcast_to(mf, it["canon"].shape) for it in its], its)))
        print(f"### {name}\n")
        print("| model | r (lag 0) | best lag | articulation (std ratio) | mouth LMD | jitter ratio |")
        print("|---|---|---|---|---|---|")
        for label, f in rows:
            r = "n/a" if np.isnan(f["r"]) else f"{f['r']:.3f}"
            lag = "n/a" if f["lag"] is None else f"{f['lag']:+d}"
            jit = "n/a" if np.isnan(f["jit"]) else f"{f['jit']:.2f}"
            print(f"| {label} | {r} | {lag} | {f['art']:.2f} | {f['lmd']:.4f} | {jit} |")
        print()
        if len(its) <= 8:  # a few clips: each clip's spread (the pooled articulation above is the measure)
            print("Per clip: std of the predicted opening / std of the true opening (true std in brackets).\n")
            print("| model | " + " | ".join(f"{spk} {nm} ({t:.3f})" for spk, nm, _, t in rows[0][1]["per"]) + " | median |")
            print("|---|" + "---|" * (len(its) + 1))
            for label, f in rows[:-1]:
                q = [p / t for _, _, p, t in f["per"]]
                print(f"| {label} | " + " | ".join(f"{v:.2f}" for v in q) + f" | {np.median(q):.2f} |")
            print()
        summ[name] = rows
    print("Truth: the kit's face analysis on the video, eye-pinned, identity removed. r per clip at lag 0, "
          "averaged; best lag in -4..+4 frames (+: late); articulation = std(predicted opening) / std(true "
          "opening), variances pooled over the set's clips; jitter ratio = (mean |second difference| / std) of the predicted opening over the same of "
          "the true opening. GRID corpus (Cooke et al. 2006), CC BY 4.0.\n")
    return summ


if __name__ == "__main__":
    main(sys.argv[1:])
