"""Evaluates models/audio2landmarks.onnx (or argv[1]) on the GRID clips, the held-out TTS voice,
silence and noise. Prints markdown tables.

GRID truth: dlib 68 points per video frame (decoded with gst-launch-1.0, cached in data/grid/).
"""
import glob, os, pickle, subprocess, sys
import numpy as np
import onnxruntime as ort
import soundfile as sf

import common as C
import targets as T

GRID = "/work/shared/data/grid"
DLIB_MODEL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
CACHE = os.path.join(C.HERE, "data", "grid")
MOUTH = list(range(48, 68))


def decode_clip(mpg):
    name = os.path.basename(mpg)[:-4]
    out = os.path.join(CACHE, name + ".npz")
    if os.path.exists(out):
        d = np.load(out)
        return d["audio"], d["lm"]
    import dlib
    from PIL import Image
    td = os.path.join(CACHE, name); os.makedirs(td, exist_ok=True)
    wav = os.path.join(td, "a.wav")
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={mpg}", "!", "mpegpsdemux", "name=d",
                    "d.", "!", "queue", "!", "mpegaudioparse", "!", "mpg123audiodec", "!", "audioconvert", "!",
                    "audioresample", "!", "audio/x-raw,rate=16000,channels=1", "!", "wavenc", "!", "filesink", f"location={wav}",
                    "d.", "!", "queue", "!", "mpegvideoparse", "!", "mpeg2dec", "!", "videoconvert", "!", "pngenc", "!",
                    "multifilesink", f"location={td}/f_%03d.png"], check=True)
    audio, sr = sf.read(wav, dtype="float32")
    assert sr == 16000
    det, pred = dlib.get_frontal_face_detector(), dlib.shape_predictor(DLIB_MODEL)
    lms = []
    for png in sorted(glob.glob(os.path.join(td, "f_*.png"))):
        img = np.array(Image.open(png).convert("RGB"))
        faces = det(img, 1)
        if not faces:
            lms.append(np.full((68, 2), np.nan)); continue
        f = max(faces, key=lambda r: r.area())
        s = pred(img, f)
        lms.append(np.array([[p.x, p.y] for p in s.parts()], float))
    lm = np.array(lms)
    np.savez(out, audio=audio, lm=lm)
    return audio, lm


def pin(lm):
    """Similarity per frame taking points 36/45 to the mean face's."""
    a0, a1 = lm[:, 36], lm[:, 45]
    b0, b1 = T.MEAN_FACE[36].astype(float), T.MEAN_FACE[45].astype(float)
    za = (a1[:, 0] - a0[:, 0]) + 1j * (a1[:, 1] - a0[:, 1])
    zb = complex(b1[0] - b0[0], b1[1] - b0[1])
    s = zb / za  # rotation + scale
    z = (lm[..., 0] - a0[:, None, 0]) + 1j * (lm[..., 1] - a0[:, None, 1])
    w = z * s[:, None]
    return np.stack([w.real + b0[0], w.imag + b0[1]], -1)


class Model:
    def __init__(self, path):
        so = ort.SessionOptions(); so.intra_op_num_threads = 1
        self.s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        meta = self.s.get_modelmeta().custom_metadata_map
        self.meta = {k.split(".", 1)[1]: v for k, v in meta.items()}
        self.d = int(self.meta["lookahead"])

    def __call__(self, audio, n_frames=None):
        if n_frames is None:
            n_frames = -(-audio.size // C.HOP)
        f = C.F.features(audio, self.meta, n_frames=n_frames + self.d)
        z = np.zeros((C.LAYERS, 1, C.HIDDEN), np.float32)
        lm, sp, _, _ = self.s.run(None, {"features": f[None], "state_in.h": z, "state_in.c": z})
        return lm[0, self.d:], sp[0, self.d:]


def rms_env(audio, n):
    x = np.zeros(n * C.HOP); m = min(x.size, audio.size); x[:m] = audio[:m]
    return np.sqrt((x.reshape(n, C.HOP) ** 2).mean(1))


def r(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(C.HERE, "..", "..", "models", "audio2landmarks.onnx")
    model = Model(path)
    os.makedirs(CACHE, exist_ok=True)
    print("## GRID clips (real speakers; truth = dlib 68 points on the video)\n")
    print("| clip | r model | r energy | r static | mouth LMD model | mouth LMD model, median-centred | mouth LMD static |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for mpg in sorted(glob.glob(os.path.join(GRID, "*.mpg"))):
        name = os.path.basename(mpg)[:-4]
        audio, raw = decode_clip(mpg)
        n = raw.shape[0]
        true_open = T.mouth_opening(raw)
        lm, sp = model(audio, n)
        pred_open = T.mouth_opening(lm)
        env = rms_env(audio, n)
        pinned = pin(raw)
        ok = np.isfinite(pinned).all(axis=(1, 2))
        norm = pinned.copy()
        med = np.median(pinned[ok][:, MOUTH], 0)
        norm[:, MOUTH] = pinned[:, MOUTH] - med + T.MEAN_FACE[MOUTH]
        lmd_m = float(np.linalg.norm(lm[ok][:, MOUTH] - norm[ok][:, MOUTH], axis=-1).mean())
        lmd_s = float(np.linalg.norm(T.MEAN_FACE[MOUTH][None] - norm[ok][:, MOUTH], axis=-1).mean())
        pc = lm[ok][:, MOUTH] - np.median(lm[ok][:, MOUTH], 0) + T.MEAN_FACE[MOUTH]
        lmd_c = float(np.linalg.norm(pc - norm[ok][:, MOUTH], axis=-1).mean())
        row = (r(pred_open, true_open), r(env, true_open), lmd_m, lmd_c, lmd_s)
        rows.append(row)
        print(f"| {name} | {row[0]:.3f} | {row[1]:.3f} | undefined | {row[2]:.4f} | {row[3]:.4f} | {row[4]:.4f} |")
    m = np.mean(rows, 0)
    print(f"| **mean** | **{m[0]:.3f}** | **{m[1]:.3f}** | undefined | **{m[2]:.4f}** | **{m[3]:.4f}** | **{m[4]:.4f}** |")
    print("\nr: Pearson, lag 0, mouth opening = inner-lip gap / mouth width. LMD: mean distance over the 20 mouth points, "
          "canonical units (outer eye corners 0.4 apart); truth eye-pinned and median-centred on the mean face; "
          "'median-centred' also centres the prediction on its own clip median.\n")

    # held-out TTS voice against the teacher
    test = pickle.load(open(os.path.join(C.HERE, "data", "corpus_test.pkl"), "rb"))
    rng = np.random.default_rng(7)
    parts, phones, t0 = [], [], 0
    for it in test:
        sil = int(rng.uniform(0.2, 1.0) * C.SR)
        parts.append(np.zeros(sil)); t0 += sil
        for p, s, e in it["phones"]:
            phones.append((p, s + t0 / C.SR, e + t0 / C.SR))
        x = it["audio"].astype(np.float64) / 32767; parts.append(x); t0 += x.size
    x = np.concatenate(parts + [np.zeros(C.SR)]).astype(np.float32)
    n = -(-x.size // C.HOP)
    o, w, spk = T.frame_tracks(phones, n)
    teach = T.mouth_opening(T.landmarks(o, w))
    print(f"## Held-out TTS voice (mb-us3, {len(test)} sentences, {x.size / C.SR / 60:.1f} min) against the teacher\n")
    print("| condition | r opening | speech accuracy |")
    print("|---|---|---|")
    for cond, snr in (("clean", None), ("white noise 10 dB SNR", 10.0)):
        xx = x.copy()
        if snr is not None:
            p = np.mean(x[np.repeat(spk > 0, C.HOP)[: x.size]] ** 2)
            xx = (x + rng.standard_normal(x.size) * np.sqrt(p / 10 ** (snr / 10))).astype(np.float32)
        lm, sp = model(xx, n)
        acc = float(((sp > 0.5) == (spk > 0.5)).mean())
        print(f"| {cond} | {r(T.mouth_opening(lm), teach):.3f} | {acc:.3f} |")
    ay = float(T.mouth_opening(T.landmarks(np.array([1.0], np.float32), np.array([0.1], np.float32)))[0])
    print(f"\n## No speech (opening = inner-lip gap / mouth width; teacher closed = 0, AY = {ay:.3f})\n")
    print("| input (10 s) | mean opening | max opening | mean speech prob |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(3)
    N = 10 * C.SR
    pink = np.cumsum(rng.standard_normal(N)); pink -= np.convolve(pink, np.ones(400) / 400, "same")
    conds = [("digital silence", np.zeros(N)),
             ("white noise -50 dBFS", rng.standard_normal(N) * 10 ** (-50 / 20)),
             ("white noise -30 dBFS", rng.standard_normal(N) * 10 ** (-30 / 20)),
             ("brown-ish noise -25 dBFS", pink / pink.std() * 10 ** (-25 / 20))]
    for name, xx in conds:
        lm, sp = model(xx.astype(np.float32))
        op = T.mouth_opening(lm)
        print(f"| {name} | {op.mean():.3f} | {op.max():.3f} | {sp.mean():.3f} |")


if __name__ == "__main__":
    main()
