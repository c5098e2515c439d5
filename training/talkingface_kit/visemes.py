"""Checks and fits the teacher (a2l/targets.py) against the real GRID mouths.

python -m talkingface_kit.visemes        # prints the leave-one-out table, writes teacher_fit.json

1. Each GRID clip is force-aligned to its known sentence with pocketsphinx (phones, 10 ms steps).
2. Truth: dlib's 68 points, eye-pinned, identity removed (the speaker's neutral face, the mean of
   their 10% most closed-mouth frames, replaced by models/mean_face.txt).
3. Per-phone opening targets: the teacher's blend is linear in the targets once the dominances are
   fixed, so they are fitted by ridge least squares (pulled towards the prior table) to the true
   opening. Leave-one-out: fit on 4 clips, measure on the 5th.
4. Geometry: the displacement of the 20 mouth and 11 jaw points per unit of teacher opening and
   width, fitted by least squares to the true displacements (also leave-one-out for the measures).

teacher_fit.json (next to this file) holds the fit on all five clips, which a2l/targets.py uses.
Only five clips: GRID measures of a model trained on this teacher are not independent of the
geometry fit; the leave-one-out rows below say how much that fit is worth on unseen speakers.
"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

from . import canon, grid

KIT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT / "a2l"))
if "targets" not in sys.modules:
    import os
    os.environ["A2L_TEACHER"] = "prior"  # the fit starts from the hand-made teacher
import targets as T  # noqa: E402  (the teacher used for training)

FIT_PATH = pathlib.Path(__file__).resolve().parent / "teacher_fit.json"
GEOM_POINTS = list(range(48, 68)) + list(range(3, 14))
# NOTES.md: openings fitted on other GRID speakers, relative to AY = 1 and closing silence = 0
NOTES_OPEN = {"AW": 1.07, "EH": .94, "EY": .89, "IY": .82, "K": .73, "L": .64, "AE": .63, "DH": .57,
              "AO": .53, "UW": .53, "S": .52, "T": .48, "IH": .46, "G": .43, "D": .43, "N": .38,
              "W": .25, "AH": .22, "F": .17, "V": .08, "R": 0.0, "B": 0.0, "AY": 1.0}


def align(clip: str):
    """[(ARPAbet phone or 'SIL', start s, end s)] of a GRID clip, cached."""
    path = grid.CACHE / f"{clip}.phones.json"
    if path.exists():
        return [tuple(p) for p in json.loads(path.read_text())]
    from pocketsphinx import Decoder
    x = (np.clip(grid.clip_data(clip)["audio"], -1, 1) * 32767).astype(np.int16).tobytes()
    dec = Decoder(samprate=16000, bestpath=False, loglevel="FATAL")
    dec.set_align_text(grid.CLIPS[clip])
    dec.start_utt(); dec.process_raw(x, full_utt=True); dec.end_utt()
    dec.set_alignment()
    dec.start_utt(); dec.process_raw(x, full_utt=True); dec.end_utt()
    out = []
    for w in dec.get_alignment():
        for p in w:
            out.append((p.name, p.start / 100.0, (p.start + p.duration) / 100.0))
    path.write_text(json.dumps(out))
    return out


def truth(clip: str, mean_face):
    d = grid.clip_data(clip)
    lm = grid.identity_removed(d["pinned"], mean_face)
    return lm, canon.mouth_opening(d["pinned"])


def design(phones, n, classes):
    """Columns: teacher opening with one class set to 1 (others 0), and the 'before speech' column."""
    saved, saved_b = dict(T.TABLE), T.BEFORE_SPEECH
    cols = []
    try:
        T.BEFORE_SPEECH = 0.0
        for c in classes:
            for k, (o, w, a) in saved.items():
                T.TABLE[k] = (1.0 if k == c else 0.0, w, a)
            cols.append(T.frame_tracks(phones, n)[0])
        for k, (o, w, a) in saved.items():
            T.TABLE[k] = (0.0, w, a)
        T.BEFORE_SPEECH = 1.0
        cols.append(T.frame_tracks(phones, n)[0])
    finally:
        T.TABLE.clear(); T.TABLE.update(saved); T.BEFORE_SPEECH = saved_b
    return np.stack(cols, 1).astype(np.float64)


def fit_open(data, classes, prior, lam=0.5):
    """Ridge fit of opening targets (+ before-speech) to true opening, towards prior (scaled)."""
    A = np.concatenate([d["A"] for d in data]); y = np.concatenate([d["open"] for d in data])
    # allow a scale between teacher units and true opening: fit s*prior first
    p = np.asarray(prior, np.float64)
    s = float(A @ p @ y / max(1e-9, (A @ p) @ (A @ p)))
    k = A.shape[1]
    theta = np.linalg.solve(A.T @ A + lam * np.eye(k), A.T @ y + lam * s * p)
    return np.clip(theta / s, 0.0, 1.5)  # back to teacher units (AY ~ 1)


def fit_geom(data):
    """Displacement per unit teacher opening and width, [2, 68, 2], least squares over GEOM_POINTS."""
    X = np.concatenate([np.stack([d["to"], d["tw"]], 1) for d in data])
    Y = np.concatenate([d["disp"][:, GEOM_POINTS].reshape(len(d["disp"]), -1) for d in data])
    B, *_ = np.linalg.lstsq(X, Y, rcond=None)
    out = np.zeros((2, 68, 2))
    out[:, GEOM_POINTS] = B.reshape(2, len(GEOM_POINTS), 2)
    mir = out[:, canon.MIRROR].copy()
    mir[..., 0] *= -1.0
    return 0.5 * (out + mir)  # left-right symmetric


def teacher_tracks(phones, n, table, before):
    saved, saved_b = dict(T.TABLE), T.BEFORE_SPEECH
    try:
        T.TABLE.update(table); T.BEFORE_SPEECH = before
        o, w, _ = T.frame_tracks(phones, n)
    finally:
        T.TABLE.clear(); T.TABLE.update(saved); T.BEFORE_SPEECH = saved_b
    return o, w


def main():
    mf = canon.load_mean_face()
    clips = list(grid.CLIPS)
    data = []
    for c in clips:
        phones = align(c)
        lm, op = truth(c, mf)
        n = len(op)
        data.append({"clip": c, "phones": phones, "open": op, "disp": lm - mf})
    classes = sorted({T.phone_class(p) for d in data for p, s, e in d["phones"] if T.phone_class(p)})
    for d in data:
        d["A"] = design(d["phones"], len(d["open"]), classes)
    tables = {
        "prior (a2l table)": ({c: T.TABLE[c][0] for c in classes}, T.BEFORE_SPEECH),
        "NOTES.md fit (other GRID speakers)": ({c: NOTES_OPEN.get(c, T.TABLE[c][0]) for c in classes}, 0.4),
    }
    prior = [T.TABLE[c][0] for c in classes] + [T.BEFORE_SPEECH]

    def evaluate(table_for, geom_for):
        rows = []
        for i, d in enumerate(data):
            tab, before = table_for(i)
            o, w = teacher_tracks(d["phones"], len(d["open"]),
                                  {c: (tab[c], T.TABLE[c][1], T.TABLE[c][2]) for c in classes}, before)
            d["to"], d["tw"] = o, w
            r = canon.pearson(o, d["open"])
            rows.append([r])
        for i, d in enumerate(data):
            G = geom_for(i)
            pred = mf + d["to"][:, None, None] * G[0] + d["tw"][:, None, None] * G[1]
            true = mf + d["disp"]
            rows[i] += [canon.mouth_lmd(pred, true), canon.mouth_lmd(np.broadcast_to(mf, true.shape), true)]
        return np.array(rows)

    base_geom = np.stack([T.D_OPEN, T.D_WIDE]).astype(np.float64)
    results = {}
    for name, (tab, before) in tables.items():
        results[name + ", a2l geometry"] = evaluate(lambda i: (tab, before), lambda i: base_geom)
    # leave-one-out fits
    loo_tabs = []
    for i in range(len(data)):
        th = fit_open([d for j, d in enumerate(data) if j != i], classes, prior)
        loo_tabs.append(({c: th[k] for k, c in enumerate(classes)}, th[-1]))
    results["LOO opening fit, a2l geometry"] = evaluate(lambda i: loo_tabs[i], lambda i: base_geom)
    # geometry LOO (uses the tracks of the last evaluate: LOO openings)
    loo_geom = [fit_geom([d for j, d in enumerate(data) if j != i]) for i in range(len(data))]
    results["LOO opening fit, LOO geometry fit"] = evaluate(lambda i: loo_tabs[i], lambda i: loo_geom[i])

    print("Teacher against real GRID mouths (pocketsphinx alignment with the known sentence; "
          "truth = dlib points, eye-pinned, neutral face removed). Leave-one-out: fitted on 4 clips, "
          "measured on the 5th.\n")
    print("| teacher | " + " | ".join(f"r {c}" for c in clips) + " | mean r | mouth LMD | static LMD |")
    print("|---|" + "---|" * (len(clips) + 3))
    for name, rows in results.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in rows[:, 0]) +
              f" | **{rows[:, 0].mean():.3f}** | {rows[:, 1].mean():.4f} | {rows[:, 2].mean():.4f} |")

    # geometry with the NOTES.md openings (fitted on other GRID speakers, not on these clips)
    notes_tab, notes_before = tables["NOTES.md fit (other GRID speakers)"]
    results2 = {}
    results2["NOTES openings, LOO geometry fit"] = None
    evaluate(lambda i: (notes_tab, notes_before), lambda i: base_geom)  # sets the tracks
    loo_geom2 = [fit_geom([d for j, d in enumerate(data) if j != i]) for i in range(len(data))]
    G = fit_geom(data)
    rows_loo = evaluate(lambda i: (notes_tab, notes_before), lambda i: loo_geom2[i])
    rows_all = evaluate(lambda i: (notes_tab, notes_before), lambda i: G)
    for name, rows in (("NOTES openings, LOO geometry fit", rows_loo),
                       ("NOTES openings, geometry fit on all 5 (used for training)", rows_all)):
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in rows[:, 0]) +
              f" | **{rows[:, 0].mean():.3f}** | {rows[:, 1].mean():.4f} | {rows[:, 2].mean():.4f} |")
    # the training teacher: NOTES.md openings (bilabials P, M closed like B; classes NOTES.md lacks keep
    # the a2l prior), 'before speech' 0.4, and the geometry fitted on all five clips
    table = {c: float(v[0]) for c, v in T.TABLE.items()}
    table.update({c: float(v) for c, v in NOTES_OPEN.items()})
    table["P"] = table["M"] = table["B"]
    fit = {"source": "openings: /work/shared/NOTES.md (fitted on other GRID speakers); geometry: least squares "
                     "on the GRID sample clips " + ",".join(clips) + " (CC BY 4.0), pocketsphinx alignment, dlib 68",
           "opening": table, "before_speech": float(notes_before),
           "d_open": G[0].round(6).tolist(), "d_wide": G[1].round(6).tolist(),
           "mouth_opening_of_AY": float(canon.mouth_opening(mf + 1.0 * G[0] + 0.1 * G[1]))}
    FIT_PATH.write_text(json.dumps(fit, indent=1))
    th = fit_open(data, classes, prior)
    print("\nfor comparison, openings fitted on all 5 clips (not used; teacher units, AY prior 1):",
          ", ".join(f"{c} {th[k]:.2f}" for k, c in sorted(enumerate(classes), key=lambda kc: -th[kc[0]])),
          f"; before speech {th[-1]:.2f}")
    print(f"AY opening with the fitted geometry: {fit['mouth_opening_of_AY']:.3f}")
    print(f"wrote {FIT_PATH}")


if __name__ == "__main__":
    main()
