"""Trains the audio2landmarks LSTM on the TTS corpus with teacher targets (seeded, CPU).

usage: train.py STEPS [OUT.pt]
"""
import os, pickle, sys, time
import numpy as np
import torch
import torch.nn.functional as Fn
from scipy.signal import butter, sosfilt, fftconvolve

import common as C
import targets as T

CROP_FRAMES = 88  # 3.52 s
BATCH = 32
SPEED_PERTURB = os.environ.get("A2L_SPEED", "1") == "1"
VEL_WEIGHT = float(os.environ.get("A2L_VEL", "0"))  # temporal-difference loss weight (Eskimez, Zheng)
LOSS = os.environ.get("A2L_LOSS", "mse")              # mse | wing
WING_W, WING_EPS = 0.1, 0.02                          # units: displacement / SCALE (a mouth point moves ~0.3)
ARCH = os.environ.get("A2L_ARCH", "lstm")            # lstm (Eskimez) | cnngru (Wang)
PHONE_WEIGHT = float(os.environ.get("A2L_PHONE", "0"))  # auxiliary phoneme head (Zheng); 0 = none
SPEED_LO, SPEED_HI, SPEED_P = (float(v) for v in os.environ.get("A2L_SPEED_RANGE", "0.88,1.12,0.5").split(","))
# Real talking faces (issue 9): talkingface_kit.realdata's corpus (GRID s1, training split only).
REAL = os.environ.get("A2L_REAL", "")                  # path to realdata corpus.pkl; empty = none
REAL_P = float(os.environ.get("A2L_REAL_P", "0.5"))   # share of the batch's crops that are real
REAL_W = float(os.environ.get("A2L_REAL_W", "1"))     # loss weight of a real crop (teacher crops: 1)
VOICE_AUG = os.environ.get("A2L_VOICE_AUG", "0") == "1"  # VTLP pitch/formant warp, G.711/G.722 codecs
NORM = os.environ.get("A2L_NORM", "0") == "1"         # per-speaker amplitude normalisation of the targets
# What the normalisation matches: 'speech' = the opening's std over speech frames (issue 9's first
# recipe), 'crop' = the opening's std over whole 3.5 s crops, silences included (what articulation measures)
NORM_STAT = os.environ.get("A2L_NORM_STAT", "speech")  # speech | crop | voice (crop, per voice)
CORR_WEIGHT = float(os.environ.get("A2L_CORR", "0"))  # 1 - Pearson r of the mouth opening per crop
STD_WEIGHT = float(os.environ.get("A2L_STD", "0"))    # (log std ratio)^2 of the mouth opening per crop
TEACHER_GAIN = 1.0                                    # set in main() when NORM
VOICE_GAIN = {}                                       # NORM_STAT 'voice': voice -> gain, set in main()
_BY_VOICE = {}


def load(name):
    data = os.environ.get("A2L_DATA", os.path.join(C.HERE, "data"))
    items = pickle.load(open(os.path.join(data, f"corpus_{name}.pkl"), "rb"))
    for it in items:
        it["x"] = it["audio"].astype(np.float32) / 32767.0
    return items


def colored_noise(rng, n):
    w = rng.standard_normal(n)
    kind = rng.integers(3)
    if kind == 0:
        return w
    spec = np.fft.rfft(w)
    f = np.arange(spec.size) + 1.0
    spec = spec / (f ** (0.5 if kind == 1 else 1.0))
    y = np.fft.irfft(spec, n)
    return y / (y.std() + 1e-9)


def augment(rng, x, speech_mask):
    """x: clean crop (float64). Returns augmented crop."""
    if rng.random() < 0.3:  # reverb: exponential decay impulse
        rt = rng.uniform(0.1, 0.5)
        n = int(rt * C.SR)
        ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
        ir[0] = 1.0 / rng.uniform(0.2, 0.8)  # direct path
        x = fftconvolve(x, ir)[: x.size]
        x = x / (np.abs(x).max() + 1e-9) * 0.7
    if rng.random() < 0.2:  # telephone band
        sos = butter(4, [300, 3400], btype="band", fs=C.SR, output="sos")
        x = sosfilt(sos, x)
    elif rng.random() < 0.2:  # random low-pass
        sos = butter(4, rng.uniform(2500, 7000), btype="low", fs=C.SR, output="sos")
        x = sosfilt(sos, x)
    if rng.random() < 0.7:
        if speech_mask.any():
            p_n = np.mean(x[speech_mask] ** 2) / 10 ** (rng.uniform(5, 30) / 10)
        else:  # no speech in the crop: noise at an absolute level
            p_n = 10 ** (rng.uniform(-60, -20) / 10)
        x = x + colored_noise(rng, x.size) * np.sqrt(p_n)
    else:
        x = x + rng.standard_normal(x.size) * 10 ** rng.uniform(-5, -3.5)
    x = x * 10 ** (rng.uniform(-12, 12) / 20)
    x = np.clip(x, -1, 1)
    if VOICE_AUG and rng.random() < 0.25:
        x = codec(rng, x)
    return x


def codec(rng, x):
    """A telephone or VoIP codec round trip: G.711 mu-law at 8 kHz, or G.722 at 48-64 kbit/s."""
    from scipy.signal import resample_poly
    if rng.random() < 0.5:
        y = resample_poly(x, 1, 2)
        mu = 255.0
        q = np.round(np.sign(y) * np.log1p(mu * np.abs(np.clip(y, -1, 1))) / np.log1p(mu) * 127) / 127
        y = np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu
        return resample_poly(y, 2, 1)[: x.size]
    import G722
    rate = int(rng.choice([48000, 56000, 64000]))
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    y = np.asarray(G722.G722(16000, rate).decode(G722.G722(16000, rate).encode(pcm)), np.float64) / 32767
    out = np.zeros_like(x); out[: min(x.size, y.size)] = y[: x.size]
    return out


def voice_items(items, voice):
    """The utterances of one voice in items (cached per list)."""
    key = (id(items), voice)
    if key not in _BY_VOICE:
        _BY_VOICE[key] = [it for it in items if it["voice"] == voice]
    return _BY_VOICE[key]


def make_crop(rng, items, aug=True):
    """Concatenates random utterances with random silences; returns audio, opening, width, speech and
    phone class per frame. NORM_STAT 'voice': the crop's utterances are all of the voice of its first
    one (drawn in proportion, as otherwise), and its targets are scaled by that voice's gain."""
    n_need = (CROP_FRAMES + 40) * C.HOP
    parts, phones, t0 = [], [], 0
    pure_silence = rng.random() < 0.08
    pool, gain = items, 1.0
    while t0 < n_need:
        sil = int(rng.uniform(0.05, 1.2) * C.SR)
        parts.append(np.zeros(sil)); t0 += sil
        if pure_silence:
            continue
        it = pool[rng.integers(len(pool))]
        if NORM_STAT == "voice" and pool is items:
            pool = voice_items(items, it["voice"])
            gain = VOICE_GAIN.get(it["voice"], 1.0)
        xu = it["x"].astype(np.float64)
        k = rng.uniform(SPEED_LO, SPEED_HI) if (SPEED_PERTURB and rng.random() < SPEED_P) else 1.0
        if k != 1.0:  # speed perturbation: shifts pitch and formants (new 'speakers'), scales timing
            n_new = int(round(xu.size / k))
            xu = np.interp(np.arange(n_new) * k, np.arange(xu.size), xu)
        for p, s, e in it["phones"]:
            phones.append((p, s / k + t0 / C.SR, e / k + t0 / C.SR))
        parts.append(xu); t0 += xu.size
    x = np.concatenate(parts)
    n_frames = x.size // C.HOP
    o, w, sp = T.frame_tracks(phones, n_frames)
    ph = T.frame_phones(phones, n_frames)
    start = int(rng.integers(0, max(1, n_frames - CROP_FRAMES))) if rng.random() < 0.5 else 0
    xs = x[start * C.HOP:(start + CROP_FRAMES) * C.HOP]
    cut = slice(start, start + CROP_FRAMES)
    o, w, sp, ph = o[cut] * gain, w[cut] * gain, sp[cut], ph[cut]
    if aug:
        xs = augment(rng, xs, np.repeat(sp > 0, C.HOP)[: xs.size])
    return xs, o, w, sp, ph


def load_real(path, role="train"):
    """Real clips of realdata's corpus: audio, displacement targets (mouth and jaw points only; the rest
    of the face stays at the mean face, as in the teacher), speech per frame, good-frame mask."""
    keep = np.zeros(68, bool); keep[C.MOUTH] = True
    out = []
    for it in pickle.load(open(path, "rb")):
        if it["speaker"] != "s1" or it["role"] != role:
            continue
        n = len(it["canon"])
        x = np.zeros(n * C.HOP); a = it["audio"].astype(np.float64) / 32767
        x[: min(x.size, a.size)] = a[: x.size]
        disp = (it["canon"] - T.MEAN_FACE[None]).astype(np.float32)
        disp[:, ~keep] = 0.0
        t = (np.arange(n) + 0.5) / T.FPS
        sp = np.zeros(n, np.float32)
        for w, s0, e0 in it["words"]:
            if w not in ("sil", "sp"):
                sp[(t >= s0) & (t < e0)] = 1.0
        out.append({"name": it["name"], "x": x, "disp": disp, "sp": sp, "ok": (~it["bad"]).astype(np.float32), "n": n})
    return out


def real_gain(rng, items, real):
    """Per-speaker normalisation: the gain that gives the teacher's mouth opening the spread of the real
    speaker's, so that no voice (TTS or s1) stands for a larger or smaller mouth. NORM_STAT 'speech':
    the std over speech frames; 'crop': the std over whole crops (silences included; variances pooled
    over 256 crops of each), which also counts the teacher's larger speech/silence contrast."""
    if NORM_STAT == "voice":  # each teacher voice (and Asterisk) to s1's spread over whole crops, on its own
        rv = [T.mouth_opening(make_real_crop(rng, real, aug=False)[1] + T.MEAN_FACE[None]).var() for _ in range(256)]
        s_real = float(np.sqrt(np.mean(rv)))
        s_v = {}
        for v in sorted({it["voice"] for it in items}):
            its = voice_items(items, v)
            tv = [T.mouth_opening(T.landmarks(*make_crop(rng, its, aug=False)[1:3])).var() for _ in range(128)]
            s_v[v] = float(np.sqrt(np.mean(tv)))
            VOICE_GAIN[v] = s_real / s_v[v]
        print("per-voice opening std: " + ", ".join(f"{v} {s:.4f} (x {VOICE_GAIN[v]:.3f})" for v, s in s_v.items()),
              flush=True)
        return 1.0, s_real, float(np.sqrt(np.mean([s * s for s in s_v.values()])))
    if NORM_STAT == "crop":
        rv = [T.mouth_opening(make_real_crop(rng, real, aug=False)[1] + T.MEAN_FACE[None]).var() for _ in range(256)]
        tv = []
        for _ in range(256):
            _, o, w, sp, _ = make_crop(rng, items, aug=False)
            tv.append(T.mouth_opening(T.landmarks(o, w)).var())
        s_real, s_tea = float(np.sqrt(np.mean(rv))), float(np.sqrt(np.mean(tv)))
        return s_real / s_tea, s_real, s_tea
    real_o = np.concatenate([T.mouth_opening(r["disp"] + T.MEAN_FACE[None])[r["sp"] > 0] for r in real])
    tea = []
    for _ in range(64):
        _, o, w, sp, _ = make_crop(rng, items, aug=False)
        tea.append(T.mouth_opening(T.landmarks(o, w))[sp > 0])
    tea = np.concatenate(tea)
    return float(real_o.std() / tea.std()), float(real_o.std()), float(tea.std())


def warp_time(a, k, n_new, nearest=False):
    """Frame track [n, ...] resampled to n_new frames for speed factor k (frame centres)."""
    src = np.clip((np.arange(n_new) + 0.5) * k - 0.5, 0, len(a) - 1)
    if nearest:
        return a[np.round(src).astype(int)]
    i0 = np.floor(src).astype(int); i1 = np.minimum(i0 + 1, len(a) - 1); f = (src - i0).reshape(-1, *([1] * (a.ndim - 1)))
    return (a[i0] * (1 - f) + a[i1] * f).astype(a.dtype)


def make_real_crop(rng, real, aug=True):
    """Real clips joined end to end (GRID clips start and end in silence), speed-perturbed like the
    TTS crops; a CROP_FRAMES window of audio, displacement targets, speech and frame mask."""
    xs, ds, sps, oks, n_tot = [], [], [], [], 0
    while n_tot < CROP_FRAMES + 1:
        r = real[rng.integers(len(real))]
        x, d, sp, ok, n = r["x"], r["disp"], r["sp"], r["ok"], r["n"]
        k = rng.uniform(SPEED_LO, SPEED_HI) if (SPEED_PERTURB and rng.random() < SPEED_P) else 1.0
        if k != 1.0:
            n_new = int(round(n / k))
            xx = np.interp(np.arange(n_new * C.HOP) * k, np.arange(x.size), x)
            d, sp, ok = warp_time(d, k, n_new), warp_time(sp, k, n_new, True), warp_time(ok, k, n_new, True)
            x, n = xx, n_new
        xs.append(x); ds.append(d); sps.append(sp); oks.append(ok); n_tot += n
    x, d, sp, ok = np.concatenate(xs), np.concatenate(ds), np.concatenate(sps), np.concatenate(oks)
    start = int(rng.integers(0, n_tot - CROP_FRAMES + 1))
    xs = x[start * C.HOP:(start + CROP_FRAMES) * C.HOP]
    cut = slice(start, start + CROP_FRAMES)
    d, sp, ok = d[cut], sp[cut], ok[cut]
    if aug:
        xs = augment(rng, xs, np.repeat(sp > 0, C.HOP)[: xs.size])
    return xs, d, sp, ok


def batch(rng, items, aug=True, real=None):
    """feats, disp/SCALE [B,T,136], speech, phone class (-100: unknown), frame weight [B,T]."""
    xs, ds, sps, phs, wts = [], [], [], [], []
    for _ in range(BATCH):
        if real and rng.random() < REAL_P:
            x, d, sp, ok = make_real_crop(rng, real, aug)
            ph = np.full(CROP_FRAMES, -100, np.int64)
            w = ok * REAL_W
        else:
            x, o, w_, sp, ph = make_crop(rng, items, aug)
            d = (T.landmarks(o, w_) - T.MEAN_FACE[None]) * TEACHER_GAIN
            w = np.ones(CROP_FRAMES, np.float32)
        xs.append(x); ds.append(d); sps.append(sp); phs.append(ph); wts.append(w)
    warp = None
    if VOICE_AUG and aug:  # vocal tract length perturbation: pitch and formants, timing kept
        warp = torch.tensor(np.where(rng.random(BATCH) < 0.6, rng.uniform(0.85, 1.18, BATCH), 1.0))
    feats = C.torch_features(torch.tensor(np.stack(xs)), CROP_FRAMES, warp=warp)
    disp = torch.tensor(np.stack(ds).astype(np.float32)).reshape(BATCH, CROP_FRAMES, 136) / C.SCALE
    return (feats, disp, torch.tensor(np.stack(sps).astype(np.float32)), torch.tensor(np.stack(phs)),
            torch.tensor(np.stack(wts).astype(np.float32)))


def opening_t(disp):
    """Mouth opening (canon.mouth_opening) of displacement/SCALE [B,T,136], differentiable."""
    p = disp.reshape(*disp.shape[:2], 68, 2) * C.SCALE + torch.as_tensor(T.MEAN_FACE)
    gap = (p[..., [61, 62, 63], :] - p[..., [67, 66, 65], :]).pow(2).sum(-1).add(1e-10).sqrt().mean(-1)
    return gap / (p[..., 54, :] - p[..., 48, :]).norm(dim=-1)


def loss_fn(model, feats, disp, sp, ph, fw=None):
    out, logit, _ = model(feats)
    d = C.LOOKAHEAD
    out, logit = out[:, d:], logit[:, d:]
    T_ = out.shape[1]
    disp, sp, ph = disp[:, :T_], sp[:, :T_], ph[:, :T_]
    fw = torch.ones(out.shape[:2]) if fw is None else fw[:, :T_]
    wts = torch.full((68,), 0.1); wts[C.MOUTH] = 1.0
    wts = wts.repeat_interleave(2)
    if LOSS == "wing":  # Feng et al. 2018 wing loss (as Wang et al. 2020), scaled to these units
        a = (out - disp).abs()
        c = WING_W - WING_W * np.log(1 + WING_W / WING_EPS)
        l_pos = (torch.where(a < WING_W, WING_W * torch.log1p(a / WING_EPS), a - c) * wts * fw[..., None]).mean() / fw.mean()
    else:
        l_pos = (((out - disp) ** 2) * wts * fw[..., None]).mean() / fw.mean()
    fv = fw[:, 1:] * fw[:, :-1]
    l_vel = (((((out[:, 1:] - out[:, :-1]) - (disp[:, 1:] - disp[:, :-1])) ** 2) * wts) * fv[..., None]).mean() / fv.mean().clamp_min(1e-6)
    l_sp = Fn.binary_cross_entropy_with_logits(logit, sp)
    total = l_pos + VEL_WEIGHT * l_vel + 0.05 * l_sp
    l_corr = l_std = torch.zeros(())
    if CORR_WEIGHT > 0 or STD_WEIGHT > 0:
        po, to = opening_t(out), opening_t(disp)
        m = (fw > 0).float()
        cnt = m.sum(1).clamp_min(1)
        pm = po - (po * m).sum(1, keepdim=True) / cnt[:, None]
        tm = to - (to * m).sum(1, keepdim=True) / cnt[:, None]
        ps = ((pm * pm * m).sum(1) / cnt).add(1e-8).sqrt()
        ts = ((tm * tm * m).sum(1) / cnt).add(1e-8).sqrt()
        live = (ts > 0.01).float()  # crops with mouth motion (not pure silence)
        if live.sum() > 0:
            r = (pm * tm * m).sum(1) / cnt / (ps * ts)
            l_corr = ((1 - r) * live).sum() / live.sum()
            l_std = ((torch.log(ps / ts) ** 2) * live).sum() / live.sum()
        total = total + CORR_WEIGHT * l_corr + STD_WEIGHT * l_std
    if model.phone_logits is not None:  # phone of frame t, predicted at output t + d like the landmarks
        pl = model.phone_logits[:, d:]
        if (ph >= 0).any():
            l_ph = Fn.cross_entropy(pl.reshape(-1, pl.shape[-1]), ph.reshape(-1), ignore_index=-100)
            total = total + PHONE_WEIGHT * l_ph
    return total, (l_pos.item(), l_vel.item(), l_sp.item(), l_corr.item(), l_std.item())


def neutral_silence(model):
    """Makes the mouth's output on digital silence the neutral (closed) face: subtracts the model's
    steady displacement of the mouth and jaw points on 4 s of digital silence from the head's bias.
    GRID's silences have the lips slightly apart relative to a clip's most closed frames, and a model
    that learned from them can hold the mouth a little open in silence. A2L_SILENCE_NEUTRAL=1;
    A2L_SILENCE_SHARE=0.5 subtracts half of it (the whole shift costs articulation: docs/model-card.md)."""
    model.eval()
    with torch.no_grad():
        f = C.torch_features(torch.zeros(1, 4 * C.SR, dtype=torch.float64), 100)
        out, _, _ = model(f)
        d0 = out[0, -25:].mean(0).reshape(68, 2)
        keep = torch.zeros(68, dtype=torch.bool); keep[C.MOUTH] = True
        d0[~keep] = 0.0
        d0 *= float(os.environ.get("A2L_SILENCE_SHARE", "1"))  # a share of it: the full shift folds closed lips
        model.head.bias -= d0.reshape(-1)
    return float(d0.abs().max()) * C.SCALE


def neutralise_checkpoint(path):
    ck = torch.load(path)
    if ck.get("silence_neutral"):
        print(f"{path}: silence already neutral"); return
    model = C.make_model(ck.get("arch", "lstm"), n_phones=len(T.PHONES) if ck.get("phone") else 0)
    model.load_state_dict(ck["state"])
    print(f"silence made neutral: largest mouth/jaw shift {neutral_silence(model):.4f} canonical units")
    ck["state"] = model.state_dict(); ck["silence_neutral"] = True
    torch.save(ck, path)


def main():
    global TEACHER_GAIN, REAL_P
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(C.HERE, "runs", "model.pt")
    seed = int(os.environ.get("A2L_SEED", "0"))
    torch.manual_seed(seed); torch.set_num_threads(int(os.environ.get("A2L_THREADS", "2")))
    rng = np.random.default_rng(seed)
    items = load("train")
    voices = sorted({it["voice"] for it in items})
    extra = os.environ.get("A2L_EXTRA")  # e.g. ../cache/asterisk.pkl: real speech, its training split only
    if extra:
        sys.path.insert(0, os.path.join(C.HERE, ".."))
        from talkingface_kit.asterisk import is_test
        ex = [it for it in pickle.load(open(extra, "rb")) if not is_test(it["name"])]
        for it in ex:
            it["x"] = it["audio"].astype(np.float32) / 32767.0
        rep = int(os.environ.get("A2L_EXTRA_REPEAT", "3"))
        items = items + ex * rep
        print(f"extra: {len(ex)} utterances x {rep} from {extra}", flush=True)
    real = load_real(REAL) if REAL else None
    real_val = load_real(REAL, "val") if REAL else None
    if real:
        print(f"real: {len(real)} GRID s1 training clips ({sum(r['n'] for r in real) / 25 / 60:.1f} min), "
              f"{len(real_val)} validation clips; share of crops {REAL_P}, weight {REAL_W}", flush=True)
        if NORM:
            TEACHER_GAIN, s_real, s_tea = real_gain(np.random.default_rng(seed + 17), items, real)
            print(f"per-speaker normalisation: opening std ({NORM_STAT}) s1 {s_real:.4f}, teacher {s_tea:.4f}: "
                  f"teacher targets x {TEACHER_GAIN:.3f}", flush=True)
    # feature normalisation constants on augmented training crops
    fs = torch.cat([batch(rng, items, real=real)[0].reshape(-1, C.NFEAT) for _ in range(8)])
    mean, std = fs.mean(0), fs.std(0).clamp_min(1e-3)
    model = C.make_model(ARCH, mean, std, len(T.PHONES) if PHONE_WEIGHT > 0 else 0)
    print(f"arch {ARCH}, {sum(p.numel() for p in model.parameters())} parameters, lookahead {C.LOOKAHEAD}, "
          f"loss {LOSS}, temporal-difference weight {VEL_WEIGHT}, phoneme head weight {PHONE_WEIGHT}, "
          f"correlation weight {CORR_WEIGHT}, std weight {STD_WEIGHT}, voice augmentation {VOICE_AUG}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.05)
    vrng = np.random.default_rng(99)
    test = load("test")
    val = [batch(vrng, test, aug=True) for _ in range(4)]
    val_real = None
    if real_val:
        p, REAL_P = REAL_P, 1.0
        val_real = [batch(vrng, test, aug=False, real=real_val) for _ in range(4)]
        REAL_P = p
    t0 = time.time()
    for step in range(1, steps + 1):
        loss, parts = loss_fn(model, *batch(rng, items, real=real))
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step()
        if step % 200 == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                vl = np.mean([loss_fn(model, *v)[1][0] for v in val])
                vr = ""
                if val_real:
                    rs, rs_std = [], []
                    for v in val_real:
                        out, _, _ = model(v[0])
                        po = opening_t(out[:, C.LOOKAHEAD:]).numpy(); to = opening_t(v[1][:, :po.shape[1]]).numpy()
                        rs += [np.corrcoef(a, b)[0, 1] for a, b in zip(po, to) if b.std() > 0.01]
                        rs_std += [a.std() / b.std() for a, b in zip(po, to) if b.std() > 0.01]
                    vr = f" val_s1_r {np.mean(rs):.3f} val_s1_std_ratio {np.mean(rs_std):.2f}"
            model.train()
            print(f"step {step} loss {loss.item():.4f} pos {parts[0]:.4f} vel {parts[1]:.4f} sp {parts[2]:.3f} "
                  f"corr {parts[3]:.3f} std {parts[4]:.3f} heldout_pos {vl:.4f}{vr} {time.time() - t0:.0f}s", flush=True)
            torch.save({"state": model.state_dict(), "steps": step, "train_s": time.time() - t0,
                        "teacher": T.TEACHER, "arch": ARCH, "voices": voices, "lookahead": C.LOOKAHEAD,
                        "loss": LOSS, "vel": VEL_WEIGHT, "phone": PHONE_WEIGHT, "extra": os.path.basename(extra) if extra else "",
                        "real": os.path.basename(os.path.dirname(REAL)) if REAL else "", "real_p": REAL_P,
                        "real_w": REAL_W, "voice_aug": VOICE_AUG, "norm": NORM, "teacher_gain": TEACHER_GAIN,
                        "corr": CORR_WEIGHT, "std": STD_WEIGHT, "norm_stat": NORM_STAT, "voice_gain": VOICE_GAIN}, out_path)
    print(f"trained {steps} steps in {time.time() - t0:.0f} s")
    if os.environ.get("A2L_SILENCE_NEUTRAL", "0") == "1":
        neutralise_checkpoint(out_path)


if __name__ == "__main__":
    if sys.argv[1:2] == ["neutralise"]:  # train.py neutralise CHECKPOINT.pt: what A2L_SILENCE_NEUTRAL=1 does at the end
        torch.set_num_threads(1)
        neutralise_checkpoint(sys.argv[2])
    else:
        main()
