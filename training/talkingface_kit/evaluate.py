"""Evaluation of an audio2landmarks ONNX model: GRID real faces, held-out voices, silence, speed.

python -m talkingface_kit.evaluate [MODEL.onnx] [--teacher fit|prior]

Prints markdown tables:
1. GRID sample clips (real speakers, never in training): Pearson r of mouth opening (inner-lip gap /
   outer mouth width) predicted vs true at lag 0, and mouth LMD (20 mouth points, canonical units:
   outer eye corners 0.4 apart) after eye pinning and identity removal (the speaker's neutral face,
   mean of their 10% most closed-mouth frames, replaced by the mean face). Baselines: static mouth
   (the mean face), and opening from the audio's RMS energy envelope. Also the teacher with the
   forced alignment of the known sentence (what a perfect imitation of the teacher would score).
2. Held-out TTS voices (mb-us3 and fe-don, never in training) and held-out real human speech (Asterisk prompts)
   against the teacher's targets from the phone timings.
3. Silence and noise without speech: the mouth must stay closed.
4. Speed with ONNX Runtime on one thread.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import pickle
import sys
import time

import numpy as np

KIT = pathlib.Path(__file__).resolve().parents[1]
SR, HOP = 16000, 640


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=str(KIT.parent / "models" / "audio2landmarks.onnx"))
    ap.add_argument("--teacher", default=os.environ.get("A2L_TEACHER", "fit"))
    ap.add_argument("--no-speed", action="store_true")
    return ap.parse_args()


ARGS = parse() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["A2L_TEACHER"] = ARGS.teacher
sys.path.insert(0, str(KIT / "a2l"))
import targets as T  # noqa: E402

from . import canon, features, grid, visemes  # noqa: E402


def asterisk_test_split(items):
    from .asterisk import is_test
    return [i for i in items if is_test(i["name"])]


class Model:
    def __init__(self, path, threads=1):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        meta = self.s.get_modelmeta().custom_metadata_map
        self.meta = {k.split(".", 1)[1]: v for k, v in meta.items() if k.startswith("talkingface.")}
        self.d = int(self.meta["lookahead"])
        self.hop = int(self.meta["hop_length"])
        self.states = [(i.name, [d if isinstance(d, int) else 1 for d in i.shape])
                       for i in self.s.get_inputs() if i.name.startswith("state_in.")]
        self.outs = [o.name for o in self.s.get_outputs()]

    def zero_state(self):
        return {n: np.zeros(shape, np.float32) for n, shape in self.states}

    def run(self, feats, state):
        feed = {"features": feats[None].astype(np.float32)}
        feed.update(state)
        res = dict(zip(self.outs, self.s.run(None, feed)))
        new = {n: res["state_out." + n.split(".", 1)[1]] for n, _ in self.states}
        return res["landmarks"][0], res.get("speech", np.zeros((1, len(feats)), np.float32))[0], new

    def __call__(self, audio, n_frames=None):
        """Landmarks [n, 68, 2] and speech [n] for frames 0..n-1 (lookahead drained with silence)."""
        if n_frames is None:
            n_frames = -(-len(audio) // self.hop)
        f = features.features(audio, self.meta, n_frames=n_frames + self.d)
        lm, sp, _ = self.run(f, self.zero_state())
        return lm[self.d:], sp[self.d:]


def rms_env(audio, n):
    x = np.zeros(n * HOP)
    m = min(x.size, audio.size)
    x[:m] = audio[:m]
    return np.sqrt((x.reshape(n, HOP) ** 2).mean(1))


def lmd(pred, true):
    return canon.mouth_lmd(pred, true)


def grid_table(model, mf):
    clips = list(grid.CLIPS)
    data = []
    for c in clips:
        d = grid.clip_data(c)
        n = len(d["pinned"])
        true = grid.identity_removed(d["pinned"], mf)
        data.append({"clip": c, "audio": d["audio"], "true": true, "open": canon.mouth_opening(d["pinned"]),
                     "disp": true - mf, "phones": visemes.align(c), "n": n})
    # teacher tracks (forced alignment, the training teacher's openings) and LOO geometry
    for d in data:
        d["to"], d["tw"], _ = T.frame_tracks(d["phones"], d["n"])
    G_train = np.stack([T.D_OPEN, T.D_WIDE]).astype(np.float64)
    G_loo = [visemes.fit_geom([e for j, e in enumerate(data) if j != i]) for i in range(len(data))]
    rows = []
    for i, d in enumerate(data):
        lm, sp = model(d["audio"], d["n"])
        lm = lm.astype(np.float64)
        r_model = canon.pearson(canon.mouth_opening(lm), d["open"])
        env = rms_env(d["audio"], d["n"])
        r_env = canon.pearson(env, d["open"])
        # energy baseline as landmarks: envelope scaled by least squares on the other clips
        num = den = 0.0
        for j, e in enumerate(data):
            if j == i:
                continue
            ee = rms_env(e["audio"], e["n"])
            num += float(ee @ e["to"]); den += float(ee @ ee)
        lm_env = mf + (env * num / den)[:, None, None] * G_loo[i][0]
        # the model's output re-expressed with the geometry fitted without this clip
        disp = (lm - mf)[:, visemes.GEOM_POINTS].reshape(d["n"], -1)
        basis = G_train[:, visemes.GEOM_POINTS].reshape(2, -1)
        coef, *_ = np.linalg.lstsq(basis.T, disp.T, rcond=None)
        lm_loo = lm.copy()
        lm_loo[:, visemes.GEOM_POINTS] = mf[visemes.GEOM_POINTS] + np.einsum("kt,kpc->tpc", coef, G_loo[i][:, visemes.GEOM_POINTS])
        teach = mf + d["to"][:, None, None] * G_loo[i][0] + d["tw"][:, None, None] * G_loo[i][1]
        static = np.broadcast_to(mf, d["true"].shape)
        lags = [canon.pearson(np.roll(canon.mouth_opening(lm), k)[3:-3], d["open"][3:-3]) for k in range(-3, 4)]
        rows.append([r_model, r_env, canon.pearson(d["to"], d["open"]),
                     lmd(lm, d["true"]), lmd(lm_loo, d["true"]), lmd(lm_env, d["true"]), lmd(static, d["true"]),
                     lmd(teach, d["true"]), int(np.argmax(lags)) - 3])
    rows = np.array(rows, dtype=np.float64)
    print("## GRID sample clips (5 real speakers; truth = dlib 68 points on the video)\n")
    print("| clip | r model | r energy | r static | r teacher (aligned) | LMD model | LMD model, LOO geometry "
          "| LMD energy | LMD static | LMD teacher (aligned, LOO geometry) | best lag of model (frames) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for c, r in zip(clips, rows):
        print(f"| {c} | {r[0]:.3f} | {r[1]:.3f} | n/a | {r[2]:.3f} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.4f} | "
              f"{r[6]:.4f} | {r[7]:.4f} | {int(r[8]):+d} |")
    m = rows.mean(0)
    print(f"| **mean** | **{m[0]:.3f}** | **{m[1]:.3f}** | n/a | **{m[2]:.3f}** | **{m[3]:.4f}** | **{m[4]:.4f}** | "
          f"**{m[5]:.4f}** | **{m[6]:.4f}** | **{m[7]:.4f}** | |")
    print("\nr: Pearson at lag 0 (a static mouth has no variance: r undefined). LMD: mean distance over the 20 "
          "mouth points in canonical units (outer eye corners 0.4 apart). 'LOO geometry': the model's mouth motion "
          "re-expressed with the teacher geometry fitted without that clip (the shipped geometry saw all five "
          "clips). Energy baseline landmarks: RMS envelope scaled by least squares on the other clips. "
          "Best lag > 0: the model is late.\n")
    return m


def concat(items, rng, gap=(0.2, 1.0)):
    parts, phones, t0 = [], [], 0
    for it in items:
        sil = int(rng.uniform(*gap) * SR)
        parts.append(np.zeros(sil)); t0 += sil
        for p, s, e in it["phones"]:
            phones.append((p, s + t0 / SR, e + t0 / SR))
        x = it["audio"].astype(np.float64) / 32767
        parts.append(x); t0 += x.size
    x = np.concatenate(parts + [np.zeros(SR)])
    return x, phones


def band(x, lo, hi):
    from scipy.signal import butter, sosfilt
    return sosfilt(butter(4, [lo, hi], btype="band", fs=SR, output="sos"), x)


def heldout_table(model):
    sets = []
    test_pkl = KIT / "a2l" / os.environ.get("A2L_DATA", "data") / "corpus_test.pkl"  # A2L_DATA: relative to a2l/
    if test_pkl.exists():
        test = pickle.load(open(test_pkl, "rb"))
        for voice in sorted({it["voice"] for it in test}):
            items = [it for it in test if it["voice"] == voice]
            sets.append((f"TTS voice {voice} ({len(items)} sentences)", items))
    ast = KIT / "cache" / "asterisk.pkl"
    if ast.exists():
        items = asterisk_test_split(pickle.load(open(ast, "rb")))
        sets.append((f"real speech, Asterisk prompts ({len(items)} held out)", items))
    print("## Held-out speech against the teacher's targets (phone timings)\n")
    print("| speech | condition | minutes | r opening | mouth LMD | speech accuracy |")
    print("|---|---|---|---|---|---|")
    for name, items in sets:
        rng = np.random.default_rng(7)  # per set: each set's figures do not depend on the others
        x, phones = concat(items, rng)
        n = -(-x.size // HOP)
        o, w, spk = T.frame_tracks(phones, n)
        teach = T.landmarks(o, w)
        t_open = canon.mouth_opening(teach)
        mask = np.repeat(spk > 0, HOP)[: x.size]
        p = np.mean(x[mask] ** 2)
        for cond in ("clean", "white noise 10 dB SNR", "telephone band 300-3400 Hz", "-20 dB level"):
            xx = x.copy()
            if cond.startswith("white"):
                xx = x + rng.standard_normal(x.size) * np.sqrt(p / 10)
            elif cond.startswith("telephone"):
                xx = band(x, 300, 3400)
            elif cond.startswith("-20"):
                xx = x * 0.1
            lm, sp = model(xx.astype(np.float32), n)
            acc = float(((sp > 0.5) == (spk > 0.5)).mean())
            print(f"| {name} | {cond} | {x.size / SR / 60:.1f} | {canon.pearson(canon.mouth_opening(lm), t_open):.3f} "
                  f"| {lmd(lm, teach):.4f} | {acc:.3f} |")
    print()


def silence_table(model):
    rng = np.random.default_rng(3)
    N = 10 * SR
    brown = np.cumsum(rng.standard_normal(N)); brown -= np.convolve(brown, np.ones(400) / 400, "same")
    conds = [("digital silence", np.zeros(N)),
             ("white noise -50 dBFS", rng.standard_normal(N) * 10 ** (-50 / 20)),
             ("white noise -30 dBFS", rng.standard_normal(N) * 10 ** (-30 / 20)),
             ("brown-ish noise -25 dBFS", brown / brown.std() * 10 ** (-25 / 20)),
             ("1 kHz tone -20 dBFS", np.sin(2 * np.pi * 1000 * np.arange(N) / SR) * 0.1)]
    ay = float(canon.mouth_opening(T.landmarks(np.array([1.0], np.float32), np.array([0.1], np.float32)))[0])
    print(f"## No speech: the mouth must stay closed (opening; closed = 0, the teacher's AY = {ay:.3f})\n")
    print("| input (10 s) | mean opening | max opening | mean speech prob |")
    print("|---|---|---|---|")
    for name, xx in conds:
        lm, sp = model(xx.astype(np.float32))
        op = canon.mouth_opening(lm)
        print(f"| {name} | {op.mean():.3f} | {op.max():.3f} | {sp.mean():.3f} |")
    print()


def speed(model_path):
    m = Model(model_path, threads=1)
    rng = np.random.default_rng(0)
    f = rng.standard_normal((1500, sum(1 for _ in m.meta["features"].split(",")) * int(m.meta["n_mels"]))).astype(np.float32)
    m.run(f[:10], m.zero_state())
    t = time.perf_counter(); m.run(f, m.zero_state()); whole = (time.perf_counter() - t) / len(f)
    st = m.zero_state()
    t = time.perf_counter()
    for i in range(500):
        _, _, st = m.run(f[i:i + 1], st)
    single = (time.perf_counter() - t) / 500
    print("## Speed (ONNX Runtime, one thread, this machine)\n")
    print(f"- one call over 1500 frames: {whole * 1e3:.4f} ms per frame ({0.04 / whole:.0f}x real time)")
    print(f"- one call per frame (live): {single * 1e3:.4f} ms per frame ({0.04 / single:.0f}x real time)\n")


def main():
    path = ARGS.model
    model = Model(path)
    mf = canon.load_mean_face()
    print(f"# Evaluation of {os.path.relpath(path, os.getcwd())} (teacher: {ARGS.teacher})\n")
    print("metadata: " + ", ".join(f"{k}={v}" for k, v in sorted(model.meta.items()) if k != "description") + "\n")
    grid_table(model, mf)
    heldout_table(model)
    silence_table(model)
    if not ARGS.no_speed:
        speed(path)


if __name__ == "__main__":
    main()
