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
    return np.clip(x, -1, 1)


def make_crop(rng, items, aug=True):
    """Concatenates random utterances with random silences; returns audio, opening, width, speech and
    phone class per frame."""
    n_need = (CROP_FRAMES + 40) * C.HOP
    parts, phones, t0 = [], [], 0
    pure_silence = rng.random() < 0.08
    while t0 < n_need:
        sil = int(rng.uniform(0.05, 1.2) * C.SR)
        parts.append(np.zeros(sil)); t0 += sil
        if pure_silence:
            continue
        it = items[rng.integers(len(items))]
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
    o, w, sp, ph = o[cut], w[cut], sp[cut], ph[cut]
    if aug:
        xs = augment(rng, xs, np.repeat(sp > 0, C.HOP)[: xs.size])
    return xs, o, w, sp, ph


def batch(rng, items, aug=True):
    xs, lms, sps, phs = [], [], [], []
    for _ in range(BATCH):
        x, o, w, sp, ph = make_crop(rng, items, aug)
        xs.append(x); lms.append(T.landmarks(o, w)); sps.append(sp); phs.append(ph)
    feats = C.torch_features(torch.tensor(np.stack(xs)), CROP_FRAMES)
    lm = torch.tensor(np.stack(lms))  # [B,T,68,2]
    disp = (lm - torch.tensor(T.MEAN_FACE)).reshape(BATCH, CROP_FRAMES, 136) / C.SCALE
    return feats, disp, torch.tensor(np.stack(sps)), torch.tensor(np.stack(phs))


def loss_fn(model, feats, disp, sp, ph):
    out, logit, _ = model(feats)
    d = C.LOOKAHEAD
    out, logit = out[:, d:], logit[:, d:]
    disp, sp, ph = disp[:, : out.shape[1]], sp[:, : out.shape[1]], ph[:, : out.shape[1]]
    wts = torch.full((68,), 0.1); wts[C.MOUTH] = 1.0
    wts = wts.repeat_interleave(2)
    if LOSS == "wing":  # Feng et al. 2018 wing loss (as Wang et al. 2020), scaled to these units
        a = (out - disp).abs()
        c = WING_W - WING_W * np.log(1 + WING_W / WING_EPS)
        l_pos = (torch.where(a < WING_W, WING_W * torch.log1p(a / WING_EPS), a - c) * wts).mean()
    else:
        l_pos = (((out - disp) ** 2) * wts).mean()
    l_vel = ((((out[:, 1:] - out[:, :-1]) - (disp[:, 1:] - disp[:, :-1])) ** 2) * wts).mean()
    l_sp = Fn.binary_cross_entropy_with_logits(logit, sp)
    total = l_pos + VEL_WEIGHT * l_vel + 0.05 * l_sp
    if model.phone_logits is not None:  # phone of frame t, predicted at output t + d like the landmarks
        pl = model.phone_logits[:, d:]
        l_ph = Fn.cross_entropy(pl.reshape(-1, pl.shape[-1]), ph.reshape(-1))
        total = total + PHONE_WEIGHT * l_ph
    return total, (l_pos.item(), l_vel.item(), l_sp.item())


def main():
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
    # feature normalisation constants on augmented training crops
    fs = torch.cat([batch(rng, items)[0].reshape(-1, C.NFEAT) for _ in range(8)])
    mean, std = fs.mean(0), fs.std(0).clamp_min(1e-3)
    model = C.make_model(ARCH, mean, std, len(T.PHONES) if PHONE_WEIGHT > 0 else 0)
    print(f"arch {ARCH}, {sum(p.numel() for p in model.parameters())} parameters, lookahead {C.LOOKAHEAD}, "
          f"loss {LOSS}, temporal-difference weight {VEL_WEIGHT}, phoneme head weight {PHONE_WEIGHT}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.05)
    vrng = np.random.default_rng(99)
    test = load("test")
    val = [batch(vrng, test, aug=True) for _ in range(4)]
    t0 = time.time()
    for step in range(1, steps + 1):
        loss, parts = loss_fn(model, *batch(rng, items))
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step()
        if step % 200 == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                vl = np.mean([loss_fn(model, *v)[1][0] for v in val])
            model.train()
            print(f"step {step} loss {loss.item():.4f} pos {parts[0]:.4f} vel {parts[1]:.4f} sp {parts[2]:.3f} "
                  f"heldout_pos {vl:.4f} {time.time() - t0:.0f}s", flush=True)
            torch.save({"state": model.state_dict(), "steps": step, "train_s": time.time() - t0,
                        "teacher": T.TEACHER, "arch": ARCH, "voices": voices, "lookahead": C.LOOKAHEAD,
                        "loss": LOSS, "vel": VEL_WEIGHT, "phone": PHONE_WEIGHT, "extra": os.path.basename(extra) if extra else ""}, out_path)
    print(f"trained {steps} steps in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
