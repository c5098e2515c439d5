"""Trains the mouth stage (model.py) by self-reenactment on GRID s1 (prepare.py's cache).

A sample: reference crop (the clip's most closed frame), a target frame of the same clip, the warp
of the reference to the target's landmarks; the network sees the warp's mouth box, the reference's
mouth box and the target's lips as lines, and is trained to give the target's mouth box.

Augmentation (the same for reference, warp and target of a sample; it must generalise to other
people, paintings, grey-scale photos): brightness, contrast, per-channel gain, gamma, channel
permutation, grey scale (25%), horizontal flip (landmarks mirrored), box scale x0.85-1.2 and
shift +-4% (the network sees other mouth sizes and placements), a little noise, and a random
down-up scaling (blur) of the crops.
Loss: L1 + 0.5 x (1 - SSIM) (7x7 box window, per channel) on the blended box, + 0.5 x L1 of
horizontal and vertical gradients. No adversarial or perceptual term (CPU time).

One torch thread (the machine is shared). Checkpoints every 100 steps to
~/.cache/talkingface/l2f/run/ckpt.pt and resumes from it; stops after --minutes or --steps.

    python3 training/l2f/train.py [--minutes 45] [--steps 100000] [--batch 12] [--seed 0] [--run run]
        [--init models/landmarks2face_mouth.onnx --lr 5e-4]  (a fine-tune from the shipped weights)
        [--open-refs]  (also the samples whose reference is the clip's most open frame)
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

import l2f_common as C
import model as Mo

MIRROR_MOUTH = {}
for i in range(12):
    MIRROR_MOUTH[48 + i] = 48 + (6 - i) % 12
for i in range(8):
    MIRROR_MOUTH[60 + i] = 60 + (4 - i) % 8
PERM = list(range(68))
for k, v in MIRROR_MOUTH.items():
    PERM[k] = v
# eyes/brows/jaw are not used by the mouth stage except 36/45 (not used either): a plain mirror of
# the mouth's indices is enough.


def load(part, size=C.S_TRAIN):
    """The samples of one part of clips.json, or of several (a list) together."""
    d = C.L2F / f"s{size}"
    listed = json.loads((d / "clips.json").read_text())
    names = [n for p in ([part] if isinstance(part, str) else part) for n in listed[p]]
    refs, rlm, tgt, tlm, warp, owner = [], [], [], [], [], []
    for j, n in enumerate(names):
        z = np.load(d / f"s1_{n}.npz")
        refs.append(z["ref"])
        rlm.append(z["ref_lm"])
        tgt.append(z["tgt"])
        tlm.append(z["tgt_lm"])
        warp.append(z["warp"])
        owner += [j] * len(z["tgt"])
    return dict(ref=torch.from_numpy(np.stack(refs)).permute(0, 3, 1, 2).contiguous(),
                ref_lm=torch.from_numpy(np.stack(rlm)),
                tgt=torch.from_numpy(np.concatenate(tgt)).permute(0, 3, 1, 2).contiguous(),
                tgt_lm=torch.from_numpy(np.concatenate(tlm)),
                warp=torch.from_numpy(np.concatenate(warp)).permute(0, 3, 1, 2).contiguous(),
                owner=torch.tensor(owner))


def batch(data, idx):
    o = data["owner"][idx]
    f = lambda t: t.float() / 255
    return f(data["ref"][o]), data["ref_lm"][o].float(), f(data["warp"][idx]), f(data["tgt"][idx]), \
        data["tgt_lm"][idx].float()


def blur(imgs, g, lo, p=0.3):
    """With probability p, scales the images [N, K, 3, S, S] down to a random lo..0.9 of their side and
    back up (the same factor for all): blur as a lower resolution camera gives it."""
    if torch.rand(1, generator=g).item() >= p:
        return imgs
    n, c, _, s, _ = imgs.shape
    k = int((torch.rand(1, generator=g).item() * (0.9 - lo) + lo) * s)
    flat = imgs.reshape(n * c, 3, s, s)
    flat = F.interpolate(F.interpolate(flat, size=(k, k), mode="bilinear", align_corners=False, antialias=True),
                         size=(s, s), mode="bilinear", align_corners=False)
    return flat.reshape(n, c, 3, s, s)


def augment(g, ref, rlm, warp, tgt, tlm):
    n = ref.shape[0]
    r = lambda lo, hi, *shape: torch.rand(*shape, generator=g) * (hi - lo) + lo
    imgs = torch.stack([ref, warp, tgt], 1)                          # [N,3(img),3,S,S]
    # flip
    fl = torch.rand(n, generator=g) < 0.5
    if fl.any():
        imgs[fl] = imgs[fl].flip(-1)
        for lm in (rlm, tlm):
            m = lm[fl][:, PERM]
            m[..., 0] = 1 - m[..., 0]
            lm[fl] = m
    # random down-up scaling (blur) of all three
    imgs = blur(imgs, g, 0.45)
    # colour
    perm = torch.rand(n, generator=g) < 0.3
    for i in torch.nonzero(perm).flatten().tolist():
        imgs[i] = imgs[i][:, torch.randperm(3, generator=g)]
    gain = r(0.75, 1.25, n, 1, 3, 1, 1)
    imgs = imgs * gain
    grey = torch.rand(n, generator=g) < 0.25
    y = (imgs * torch.tensor([0.299, 0.587, 0.114]).view(1, 1, 3, 1, 1)).sum(2, keepdim=True)
    imgs = torch.where(grey.view(n, 1, 1, 1, 1), y.expand_as(imgs), imgs)
    mean = imgs[:, 0].mean((1, 2, 3)).view(n, 1, 1, 1, 1)
    imgs = (imgs - mean) * r(0.6, 1.4, n, 1, 1, 1, 1) + mean * r(0.6, 1.4, n, 1, 1, 1, 1)
    imgs = imgs.clamp(0, 1) ** r(0.7, 1.4, n, 1, 1, 1, 1)
    imgs = (imgs + torch.randn(imgs.shape, generator=g) * r(0, 0.02, n, 1, 1, 1, 1)).clamp(0, 1)
    return imgs[:, 0], rlm, imgs[:, 1], imgs[:, 2], tlm


def ssim(a, b):
    mu_a, mu_b = F.avg_pool2d(a, 7, 1, 3, count_include_pad=False), F.avg_pool2d(b, 7, 1, 3, count_include_pad=False)
    va = F.avg_pool2d(a * a, 7, 1, 3, count_include_pad=False) - mu_a ** 2
    vb = F.avg_pool2d(b * b, 7, 1, 3, count_include_pad=False) - mu_b ** 2
    cov = F.avg_pool2d(a * b, 7, 1, 3, count_include_pad=False) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (va + vb + c2))).mean()


def grad_l1(a, b):
    gx = lambda t: t[..., :, 1:] - t[..., :, :-1]
    gy = lambda t: t[..., 1:, :] - t[..., :-1, :]
    return (gx(a) - gx(b)).abs().mean() + (gy(a) - gy(b)).abs().mean()


def step_loss(net, ref, rlm, warp, tgt, tlm, scale=None, shift=None):
    x, c, side = net.boxes(warp, ref, rlm, tlm, scale, shift)
    tb = F.grid_sample(tgt, Mo.box_grid(c, side), mode="bilinear", padding_mode="border", align_corners=False)
    out, rgb, m = net.refine(x)
    loss = (out - tb).abs().mean() + 0.5 * (1 - ssim(out, tb)) + 0.5 * grad_l1(out, tb)
    return loss, out, tb, x


def psnr(a, b):
    return (10 * torch.log10(1 / ((a - b) ** 2).mean((1, 2, 3)).clamp_min(1e-10))).mean().item()


def validate(net, val):
    net.eval()
    with torch.no_grad():
        ref, rlm, warp, tgt, tlm = batch(val, torch.arange(len(val["owner"])))
        _, out, tb, x = step_loss(net, ref, rlm, warp, tgt, tlm)
    net.train()
    return {"psnr_box": psnr(out, tb), "psnr_box_warp": psnr(x[:, :3], tb),
            "ssim_box": ssim(out, tb).item(), "ssim_box_warp": ssim(x[:, :3], tb).item()}


def train_step(net, opt, g, data, n, augment_fn, lr):
    """One optimiser step on n random samples of data, augmented by augment_fn, with a random zoom and
    shift of the mouth box; returns the loss."""
    idx = torch.randint(0, len(data["owner"]), (n,), generator=g)
    ref, rlm, warp, tgt, tlm = augment_fn(g, *batch(data, idx))
    scale = torch.rand(n, generator=g) * 0.35 + 0.85
    shift = (torch.rand(n, 2, generator=g) - 0.5) * 0.08
    for pg in opt.param_groups:
        pg["lr"] = lr
    loss, *_ = step_loss(net, ref, rlm, warp, tgt, tlm, scale, shift)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def stage_weights(path):
    """The stage's state_dict read back from an exported model (export.py names its weights
    'mouth/stage.<state_dict key>')."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(path))
    st = {t.name[len("mouth/stage."):]: torch.from_numpy(numpy_helper.to_array(t).copy())
          for t in m.graph.initializer if t.name.startswith("mouth/stage.")}
    if not st:
        raise SystemExit(f"train: error: {path} holds no mouth stage weights (mouth/stage.*)")
    return st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=45)
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run", default="run")
    ap.add_argument("--init", help="start (when there is no checkpoint) from the stage's weights in this exported "
                                   "model (e.g. models/landmarks2face_mouth.onnx): a fine-tune on today's warp")
    ap.add_argument("--open-refs", action="store_true",
                    help="train also on prepare.py --open-refs' samples (the most open frame as the reference)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    run = C.L2F / a.run
    run.mkdir(parents=True, exist_ok=True)
    if a.open_refs:
        train, val_open = load(["train", "train_open"]), load("val_open")
    else:
        train, val_open = load("train"), None
    val = load("val")
    print(f"train: {len(train['owner'])} samples from {len(train['ref'])} clips; val {len(val['owner'])}", flush=True)
    net = Mo.MouthStage()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    step, g = 0, torch.Generator().manual_seed(a.seed)
    ck = run / "ckpt.pt"
    log = []
    if ck.exists():
        st = torch.load(ck, weights_only=False)
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        step, log = st["step"], st["log"]
        g.set_state(st["gen"])
        print(f"resumed at step {step}", flush=True)
    elif a.init:
        net.load_state_dict(stage_weights(a.init))
        print(f"starting from the weights in {a.init}", flush=True)
    t0 = time.time()
    run_loss = []
    while step < a.steps and time.time() - t0 < a.minutes * 60:
        # cosine-free: step decay after 3000 steps
        run_loss.append(train_step(net, opt, g, train, a.batch, augment, a.lr * (0.3 if step >= 3000 else 1.0)))
        step += 1
        if step % 100 == 0:
            v = validate(net, val) if step % 300 == 0 else {}
            rec = {"step": step, "loss": float(np.mean(run_loss)), "t": round(time.time() - t0), **v}
            run_loss = []
            log.append(rec)
            print(json.dumps(rec), flush=True)
            tmp = run / "ckpt.tmp"
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "log": log,
                        "gen": g.get_state()}, tmp)
            tmp.rename(ck)
    torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "log": log, "gen": g.get_state()},
               run / "ckpt.tmp")
    (run / "ckpt.tmp").rename(ck)
    v = validate(net, val)
    if val_open is not None:
        v.update({k + "_open": x for k, x in validate(net, val_open).items()})
    print("final", json.dumps({"step": step, **v}), flush=True)
    (run / "log.json").write_text(json.dumps(log + [{"final": step, **v}], indent=0))


if __name__ == "__main__":
    main()
