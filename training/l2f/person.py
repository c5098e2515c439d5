"""Person mode (issue 10): a landmarks2face model fine-tuned to one person from their own talking
video, and a portrait taken from that video.

    training/run.sh person VIDEO [NAME]
    python3 training/l2f/person.py VIDEO [--name NAME] [--out DIR] [--minutes 40] [--steps 4000]
    python3 training/l2f/person.py --grid-s1 [--minutes 27 --steps 6000]   # GRID s1's train+val clips as VIDEO
    python3 training/l2f/person.py --grid-s1 --evaluate [--eval-clips 100] [--portrait-ref] [--baselines]
    python3 training/l2f/person.py --grid-s1 --evaluate --figure OUT.png [--figure-clip lbbe1s]
    python3 training/l2f/person.py VIDEO NAME --export-only --chroma 0 [--out DIR]   # export the checkpoint again

VIDEO is a video file (anything ffmpeg decodes, with its sound), a folder of clips (the video files
in it, by name), or a text file (.txt) listing clips one per line (relative to the list's folder;
blank lines and lines starting with # are skipped). One to five minutes of the person talking,
alone in the picture, facing the camera.

Steps (each resumable: its result is cached under ~/.cache/talkingface/l2f/person/NAME/, so running
the same command again continues where it stopped):
1. analyse: every clip decoded at 25 fps (longer side at most 1280 px); its sound must not be silent;
   the kit's face analysis (talkingface_kit.face, the element's models) tracks the 68 points in
   every frame, and counts the faces once a second (the detector, faces at least a third as wide as
   the largest); frames without a face or whose landmarks jump are bad (talkingface_kit.realdata's
   rule). Errors that end the run: the input does not decode, has no sound or is silent, has no
   face, shows several faces in most frames, or has under 60 s of usable frames.
2. portrait: among the good frames, the 10% with the most closed mouth, of those the more frontal
   half (nose tip midway between the jaw's ends), of those the sharpest (variance of the Laplacian
   of the face box): written as portrait.png (the whole frame); its landmarks are the still-picture
   analysis (FaceAnalyzer.landmarks68), as the element finds them.
3. samples (prepare.py's cutting, S = 128): the video is cut into 3 s segments (one per clip for
   short clips); half the samples take the portrait as the reference (its crop frame), the other
   half the segment's most closed frame (so that another picture of the person works too); targets
   are other good frames, with the shipped warp's unpainted output precomputed; every tenth
   segment is kept for validation.
4. fine-tune: the learned mouth stage (model.py), initialised from models/landmarks2face_mouth.onnx
   (its U-Net weights read back from the file's initializers), the training targets colour-matched
   to their reference around the mouth box (match_colour: the stage must not learn to recolour its
   box when the video's light varies; --colour-match 0 turns it off), train.py's loss, a lighter
   augmentation (same person: box size and shift, blur, small light changes and noise), Adam at
   5e-4 (x0.3 for the last 30% of the steps), batch 12, one torch thread; checkpoint every 100 steps.
   Stops after --steps in all or --minutes in this run (rerun to continue).
5. export: export.py's graph (the warp and the fine-tuned stage, the model contract unchanged) to
   OUT/landmarks2face.onnx, with OUT/portrait.png; OUT defaults to ~/.cache/talkingface/person/NAME/.

Bad input ends with one line on stderr that says what is wrong and exit status 2 (no traceback).
"""
import argparse
import hashlib
import io
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

import l2f_common as C
from talkingface_kit import grid, realdata

FPS = 25
MAX_SIDE = 1280
MIN_USABLE_S = 60.0
SEGMENT = 75                 # frames: 3 s
FACE_EVERY = 25              # the face count once a second
VIDEO_EXT = {".mp4", ".mpg", ".mpeg", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".flv", ".wmv", ".ts", ".3gp"}
PERSON = C.L2F / "person"
OUT_ROOT = C.CACHE / "person"
GENERIC = C.ROOT / "models" / "landmarks2face_mouth.onnx"
WARP = C.ROOT / "models" / "landmarks2face.onnx"
SCALE = f"fps={FPS},scale=w='if(gt(iw,ih),min({MAX_SIDE},iw),-2)':h='if(gt(iw,ih),-2,min({MAX_SIDE},ih))'"


class PersonError(Exception):
    """Bad input: the message is shown as it is, without a traceback."""


def say(*a):
    print("person:", *a, flush=True)


# ---------------------------------------------------------------- input

def clip_paths(video):
    """VIDEO (file, folder, or .txt list) -> [paths]."""
    p = pathlib.Path(video).expanduser()
    if not p.exists():
        raise PersonError(f"{video}: no such file or folder")
    if p.is_dir():
        out = sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_EXT and q.is_file())
        if not out:
            raise PersonError(f"{video}: a folder without video files ({', '.join(sorted(VIDEO_EXT))})")
        return out
    if p.suffix.lower() == ".txt":
        out = []
        for line in p.read_text(errors="replace").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                q = pathlib.Path(line).expanduser()
                out.append(q if q.is_absolute() else p.parent / q)
        if not out:
            raise PersonError(f"{video}: the list names no clips")
        return out
    return [p]


def probe(path):
    """(width, height) of the frames as decoded here (rotation applied, scaled), or PersonError."""
    from PIL import Image
    r = subprocess.run([grid.ffmpeg(), "-v", "error", "-i", str(path), "-frames:v", "1", "-vf", SCALE,
                        "-f", "image2pipe", "-vcodec", "png", "-"], capture_output=True, timeout=120)
    if r.returncode or not r.stdout:
        why = r.stderr.decode(errors="replace").strip().splitlines()
        raise PersonError(f"{path}: does not decode as video ({why[-1] if why else 'no frames'})")
    return Image.open(io.BytesIO(r.stdout)).size


def frames(path, size):
    """RGB frames [H, W, 3] uint8 at 25 fps, one at a time."""
    w, h = size
    p = subprocess.Popen([grid.ffmpeg(), "-v", "error", "-i", str(path), "-vf", SCALE, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    n = w * h * 3
    try:
        while True:
            b = p.stdout.read(n)
            if len(b) < n:
                break
            yield np.frombuffer(b, np.uint8).reshape(h, w, 3)
    finally:
        p.stdout.close()
        p.kill()
        p.wait()


def sound_track(path):
    """The sound track, 16 kHz mono, float in [-1, 1], or None without one."""
    r = subprocess.run([grid.ffmpeg(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000",
                        "-f", "s16le", "-"], capture_output=True, timeout=300)
    if r.returncode or not r.stdout:
        return None
    a = np.frombuffer(r.stdout[: len(r.stdout) // 2 * 2], np.int16).astype(np.float64) / 32768
    return a if a.size else None


def sound(path):
    """RMS of the sound track (16 kHz mono), or None without one."""
    a = sound_track(path)
    return None if a is None else float(np.sqrt(np.mean(a ** 2)))


A2L = C.ROOT / "models" / "audio2landmarks.onnx"
EXPRESSIVENESS_RANGE = (0.5, 2.0)


def articulation(clips, model_path=A2L):
    """The speech model's articulation for this person: audio2landmarks (the default model) on each
    clip's sound, its mouth opening (inner-lip gap over mouth width, the kit's canon.mouth_opening)
    against the person's own in the video (the analysis' landmarks), good frames only, each clip's
    mean removed, pooled. Returns (expressiveness, true spread, predicted spread): the
    `expressiveness` of audio2landmarks (it scales the predicted motion about the mean face, so the
    opening's spread with it) that makes the two spreads equal, within EXPRESSIVENESS_RANGE; None
    when no clip has 1 s of good frames and sound."""
    from talkingface_kit import canon
    from talkingface_kit.evaluate import Model
    m = Model(model_path)
    vt = vp = 0.0
    n = 0
    for path, rec in clips:
        good = ~np.asarray(rec["bad"], bool)
        audio = sound_track(path)
        if audio is None or good.sum() < FPS:
            continue
        lm, _ = m(audio.astype(np.float32), len(good))
        to = canon.mouth_opening(np.asarray(rec["raw"], np.float64))[good]
        po = canon.mouth_opening(lm.astype(np.float64))[good]
        vt += float(((to - to.mean()) ** 2).sum())
        vp += float(((po - po.mean()) ** 2).sum())
        n += int(good.sum())
    if n == 0 or vp <= 0:
        return None
    g = float(np.clip(np.sqrt(vt / vp), *EXPRESSIVENESS_RANGE))
    return g, float(np.sqrt(vt / n)), float(np.sqrt(vp / n))


def sharpness(img, pts):
    """Variance of the Laplacian of the face box (grey, resampled to 64 x 64)."""
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int)
    h, w = img.shape[:2]
    xs = np.clip(np.linspace(x0, x1, 66).round().astype(int), 0, w - 1)
    ys = np.clip(np.linspace(y0, y1, 66).round().astype(int), 0, h - 1)
    g = img[ys][:, xs].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float(lap.var())


def frontal(pts):
    """0 for a frontal face: |nose tip to jaw ends' difference| / their sum, [..., 68, 2]."""
    a = np.linalg.norm(pts[..., 30, :] - pts[..., 0, :], axis=-1)
    b = np.linalg.norm(pts[..., 30, :] - pts[..., 16, :], axis=-1)
    return np.abs(a - b) / np.maximum(a + b, 1e-6)


def clip_key(path):
    st = path.stat()
    h = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return f"{path.stem}_{h}"


def analyse_clip(path, fa, work, cached_landmarks=None):
    """One clip: dict(size, rms, raw, bad, sharp, faces) cached in work/analysis/, or dict(skip=reason)."""
    from talkingface_kit import face
    dst = work / "analysis" / f"{clip_key(path)}.npz"
    if dst.exists():
        d = np.load(dst)
        return {k: d[k] for k in d.files}
    try:
        size = probe(path)
    except PersonError as e:
        return {"skip": "does not decode", "why": str(e)}
    rms = sound(path)
    if rms is None:
        rec = {"skip": "has no sound track"}
    elif rms < realdata.SILENT_RMS:
        rec = {"skip": f"is silent (sound level {max(20 * np.log10(max(rms, 1e-12)), -120):.0f} dBFS, under -60)"}
    else:
        tr = face.VideoTracker(fa)
        raws, sharp, counts = [], [], []
        pre = None
        if cached_landmarks is not None:
            pre = np.load(cached_landmarks)
            pre_raw, pre_bad = pre["raw"].astype(np.float64), pre["bad"].astype(bool)
        for i, f in enumerate(frames(path, size)):
            if pre is not None:
                p = pre_raw[i] if i < len(pre_raw) and not pre_bad[i] else None
            else:
                p = tr.process(np.ascontiguousarray(f))
            p = None if p is None else np.asarray(p, np.float64).reshape(68, 2)
            if p is not None and not np.isfinite(p).all():
                p = None
            raws.append(np.full((68, 2), np.nan) if p is None else p)
            sharp.append(np.nan if p is None else sharpness(f, p))
            if i % FACE_EVERY == 0:
                fs = fa.detect_turned(f, 0)
                counts.append(sum(1 for q in fs if q.width >= fs[0].width / 3) if fs else 0)
        if not raws:
            return {"skip": "does not decode", "why": f"{path}: no frames"}
        raw, bad = realdata.clean(np.array(raws))
        rec = {"size": np.array(size), "rms": np.float64(rms), "raw": raw.astype(np.float32), "bad": bad,
               "sharp": np.array(sharp), "faces": np.array(counts)}
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp.npz")
    np.savez(tmp, **{k: np.asarray(v) for k, v in rec.items()})
    tmp.rename(dst)
    return rec


def analyse(paths, work, cached=None):
    """All clips; PersonError when the input as a whole is unusable. Returns [(path, analysis)]."""
    from talkingface_kit import face
    fa = face.FaceAnalyzer(threads=1)
    t0 = time.time()
    out, skipped = [], {}
    for k, path in enumerate(paths):
        lmf = None if cached is None else cached(path)
        if cached is not None and lmf is None:    # --grid-s1: realdata's landmarks are used, never remade
            skipped.setdefault("has no landmarks from training/run.sh realdata", []).append(path)
            continue
        rec = analyse_clip(path, fa, work, lmf)
        why = str(rec.get("skip", "")) if "skip" in rec and str(rec["skip"]) else ""
        if why:
            skipped.setdefault(why, []).append(path)
            if len(paths) > 1 and len(paths) < 20:
                say(f"skipping {path}: it {why}")
        else:
            out.append((path, rec))
        if len(paths) > 1 and ((k + 1) % 50 == 0 or k + 1 == len(paths)):
            say(f"analyse: {k + 1}/{len(paths)} clips, {time.time() - t0:.0f} s")
    name = paths[0] if len(paths) == 1 else f"all {len(paths)} clips"
    if not out:
        reasons = "; ".join(f"{len(v)} {why}" if len(paths) > 1 else why for why, v in skipped.items())
        if len(paths) == 1:
            rec = analyse_clip(paths[0], fa, work)
            raise PersonError(str(rec["why"]) if "why" in rec else f"{name} {reasons}")
        raise PersonError(f"no usable clip among {len(paths)}: {reasons}")
    if skipped and len(paths) > 1:
        say("skipped clips: " + "; ".join(f"{len(v)} {why}" for why, v in skipped.items()))
    counts = np.concatenate([r["faces"] for _, r in out])
    seen = counts[counts > 0]
    if seen.size == 0 or all(r["bad"].all() for _, r in out):
        raise PersonError(f"{name}: no face found (the face analysis found none in any frame)")
    if (seen >= 2).mean() > 0.5:
        raise PersonError(f"{name}: {int(np.median(seen))} faces in most frames ({(seen >= 2).mean():.0%} of the "
                          f"frames looked at show two or more); person mode needs one person alone in the picture")
    good = sum(int((~r["bad"]).sum()) for _, r in out)
    total = sum(len(r["bad"]) for _, r in out)
    if good / FPS < MIN_USABLE_S:
        raise PersonError(f"{name}: too short: {good / FPS:.1f} s of usable frames (a face found in {good} of "
                          f"{total} frames at {FPS} fps); person mode needs at least {MIN_USABLE_S:.0f} s, "
                          f"one to five minutes of the person talking")
    width = np.median(np.concatenate([np.linalg.norm(r["raw"][~r["bad"], 16] - r["raw"][~r["bad"], 0], axis=-1)
                                      for _, r in out]))
    if width < 64:
        raise PersonError(f"{name}: the face is too small ({width:.0f} px wide; at least 64 px)")
    say(f"analyse: {len(out)} clip(s), {good / FPS:.1f} s of usable frames of {total / FPS:.1f} s, "
        f"face {width:.0f} px wide, {time.time() - t0:.0f} s")
    return out


# ---------------------------------------------------------------- portrait and samples

def choose_portrait(clips):
    """(clip index, frame index) of the portrait frame."""
    rows = []
    for ci, (_, r) in enumerate(clips):
        bad = r["bad"]
        n = len(bad)
        stable = ~bad.copy()
        for d in (1, 2):   # away from bad frames
            stable[d:] &= ~bad[:-d]
            stable[:-d] &= ~bad[d:]
        for t in np.flatnonzero(stable & np.isfinite(r["sharp"])):
            rows.append((ci, t))
    if not rows:
        rows = [(ci, t) for ci, (_, r) in enumerate(clips) for t in np.flatnonzero(~r["bad"])]
    pts = np.stack([clips[ci][1]["raw"][t] for ci, t in rows]).astype(np.float64)
    op = C.opening(pts)
    sel = op <= np.quantile(op, 0.1)
    fr = frontal(pts)
    sel &= fr <= np.quantile(fr[sel], 0.5)
    sh = np.array([clips[ci][1]["sharp"][t] for ci, t in rows])
    sh = np.where(sel & np.isfinite(sh), sh, -1)
    i = int(np.argmax(sh))
    return rows[i], {"opening": float(op[i]), "frontal": float(fr[i]), "sharpness": float(sh[i])}


def segments(clips):
    """[(clip index, first frame, end frame)]: 3 s windows (a shorter clip is one segment)."""
    out = []
    for ci, (_, r) in enumerate(clips):
        n = len(r["bad"])
        k = max(1, int(round(n / SEGMENT)))
        edges = np.linspace(0, n, k + 1).round().astype(int)
        out += [(ci, int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    return out


def cut(clips, work, samples, size, seed, val_of=None):
    """The training samples (train.py's format, uint8) into work/samples.npz."""
    from talkingface_kit import face
    dst = work / f"samples_s{size}.npz"
    if dst.exists():
        return dst
    t0 = time.time()
    rng = np.random.default_rng(seed)
    (pc, pt), info = choose_portrait(clips)
    segs = segments(clips)
    if val_of is not None:
        is_val = [bool(val_of(clips[ci][0])) for ci, _, _ in segs]
    else:
        is_val = [(i % 10 == 9) for i in range(len(segs))]
    # the portrait: the whole frame, and its landmarks as the element finds them on a still picture
    ppath, prec = clips[pc]
    img = next(f for i, f in enumerate(frames(ppath, tuple(prec["size"]))) if i == pt).copy()
    p68 = face.FaceAnalyzer(threads=1).landmarks68(img)
    if p68 is None:
        p68 = prec["raw"][pt]
    p68 = np.asarray(p68, np.float64)
    from PIL import Image
    Image.fromarray(img).save(work / "portrait.png")
    psim = C.to_crop(p68[36], p68[45])
    say(f"portrait: {ppath} frame {pt} ({pt / FPS:.2f} s): opening {info['opening']:.3f}, "
        f"asymmetry {info['frontal']:.3f}, sharpness {info['sharpness']:.0f}")
    # plan: per segment, its own reference (most closed good frame) and targets of both kinds
    n_seg = len(segs)
    per = max(1, int(round(samples / 2 / n_seg)))
    plan = {}   # clip index -> list of (frame, kind, segment)
    refs = {}   # segment -> frame index of its reference
    for si, (ci, a, b) in enumerate(segs):
        r = clips[ci][1]
        good = np.arange(a, b)[~r["bad"][a:b]]
        good = good[~((ci == pc) & (good == pt))]
        if good.size < 2:
            continue
        op = C.opening(r["raw"][good].astype(np.float64))
        ref = int(good[np.argmin(op)])
        refs[si] = ref
        others = good[good != ref]
        for kind in ("portrait", "local"):
            for t in rng.choice(others, size=min(per, others.size), replace=False):
                plan.setdefault(ci, []).append((int(t), kind, si))
        plan.setdefault(ci, []).append((ref, "ref", si))
    sess = C.warp_session(size)
    pcrop = C.crop_image(img, psim, size)
    plm = C.apply(psim, p68).astype(np.float32)
    R = {"ref": [pcrop], "ref_lm": [plm]}
    seg_ref = {si: 1 + k for k, si in enumerate(sorted(refs))}   # reference slot of each segment
    R["ref"] += [None] * len(refs)
    R["ref_lm"] += [None] * len(refs)
    S = {"tgt": [], "tgt_lm": [], "owner": [], "val": []}
    for n_done, (ci, items) in enumerate(sorted(plan.items())):
        path, r = clips[ci]
        need = {}
        for t, kind, si in items:
            need.setdefault(t, []).append((kind, si))
        sims = {}
        for si in {si for _, _, si in items}:
            rp = r["raw"][refs[si]].astype(np.float64)
            sims[si] = C.to_crop(rp[36], rp[45])
        last = max(need)
        for i, f in enumerate(frames(path, tuple(r["size"]))):
            if i > last:
                break
            for kind, si in need.get(i, []):
                lm = r["raw"][i].astype(np.float64)
                if kind == "ref":
                    R["ref"][seg_ref[si]] = C.crop_image(f, sims[si], size)
                    R["ref_lm"][seg_ref[si]] = C.apply(sims[si], lm).astype(np.float32)
                    continue
                sim, owner = (psim, 0) if kind == "portrait" else (sims[si], seg_ref[si])
                S["tgt"].append(C.crop_image(f, sim, size))
                S["tgt_lm"].append(C.apply(sim, lm).astype(np.float32))
                S["owner"].append(owner)
                S["val"].append(is_val[si])
        if len(plan) > 20 and (n_done + 1) % 100 == 0:
            say(f"samples: {n_done + 1}/{len(plan)} clips, {len(S['tgt'])} samples, {time.time() - t0:.0f} s")
    missing = {k for k, v in enumerate(R["ref"]) if v is None}
    if missing:   # a clip that decoded shorter this time: its segments' samples are dropped
        keep = [i for i, o in enumerate(S["owner"]) if o not in missing]
        for k in S:
            S[k] = [S[k][i] for i in keep]
        for k in missing:
            R["ref"][k] = np.zeros_like(pcrop)
            R["ref_lm"][k] = plm
    ref = np.stack(R["ref"])
    ref_lm = np.stack(R["ref_lm"])
    tgt, tgt_lm, owner = np.stack(S["tgt"]), np.stack(S["tgt_lm"]), np.array(S["owner"])
    warp = np.empty_like(tgt)
    for a in range(0, len(tgt), 64):
        o = owner[a:a + 64]
        w, _, _ = C.run_warp(sess[0], sess[1], ref[o].transpose(0, 3, 1, 2).astype(np.float32) / 255,
                             ref_lm[o], tgt_lm[a:a + 64])
        warp[a:a + 64] = np.clip(w.transpose(0, 2, 3, 1) * 255 + 0.5, 0, 255).astype(np.uint8)
    tmp = work / "samples.tmp.npz"
    np.savez(tmp, ref=ref, ref_lm=ref_lm, tgt=tgt, tgt_lm=tgt_lm, warp=warp, owner=owner,
             val=np.array(S["val"]), portrait=np.array([str(ppath), pt], dtype=object).astype(str))
    tmp.rename(dst)
    say(f"samples: {len(tgt)} ({int(np.sum(S['val']))} for validation), {len(ref)} references "
        f"(the portrait and {len(ref) - 1} segments' own), {time.time() - t0:.0f} s")
    return dst


# ---------------------------------------------------------------- fine-tuning

def generic_state():
    """The U-Net's weights read back from models/landmarks2face_mouth.onnx (train.stage_weights)."""
    from train import stage_weights
    return stage_weights(GENERIC)


def load_samples(path, colour_match=True):
    """(training, validation) in train.py's format; with colour_match the training targets are taken
    to their reference's light (match_colour); the validation targets stay as they are."""
    import torch
    z = np.load(path)
    val = z["val"].astype(bool)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    ref = t(z["ref"]).permute(0, 3, 1, 2).contiguous()
    parts = []
    for sel in (~val, val):
        tgt = z["tgt"][sel]
        if colour_match and sel is not val:
            tgt, g = match_colour(tgt, z["warp"][sel], z["tgt_lm"][sel])
            off = np.abs(np.log(g)).max(1) > np.log(1.1)
            pr = z["owner"][sel] == 0
            say(f"colour match: {len(g)} training targets taken to their reference's light; a channel's gain "
                f"off by more than 10% for {off[pr].mean() if pr.any() else 0:.0%} of those with the portrait as "
                f"the reference, {off[~pr].mean() if (~pr).any() else 0:.0%} of the others")
        parts.append(dict(ref=ref, ref_lm=t(z["ref_lm"]), tgt=t(tgt).permute(0, 3, 1, 2).contiguous(),
                          tgt_lm=t(z["tgt_lm"][sel]), warp=t(z["warp"][sel]).permute(0, 3, 1, 2).contiguous(),
                          owner=t(z["owner"][sel].astype(np.int64))))
    return parts


def augment(g, ref, rlm, warp, tgt, tlm):
    """The same person, the same camera: blur (down-up scaling, 30%), small light changes, noise."""
    import torch
    import train as T
    n = ref.shape[0]
    r = lambda lo, hi, *shape: torch.rand(*shape, generator=g) * (hi - lo) + lo
    imgs = torch.stack([ref, warp, tgt], 1)
    imgs = T.blur(imgs, g, 0.5)
    imgs = imgs * r(0.9, 1.1, n, 1, 1, 1, 1) * r(0.95, 1.05, n, 1, 3, 1, 1)
    imgs = (imgs + torch.randn(imgs.shape, generator=g) * r(0, 0.01, n, 1, 1, 1, 1)).clamp(0, 1)
    return imgs[:, 0], rlm, imgs[:, 1], imgs[:, 2], tlm


RING = (1.0, 1.6)   # the colour match's ring: from the mouth box's edge out to 1.6 times its side


def ring_mask(lm, size, ring=RING):
    """Pixels [size, size] bool of a square ring around the mouth box of landmarks lm [68, 2] (crop
    units; the box of model.py: centre the mouth's mean, side max(1.9 x width, 2.2 x height)), from
    ring[0] to ring[1] times the box's side, inside the face (the jaw 0-16 and the brows 26-17)."""
    from PIL import Image, ImageDraw
    lm = np.asarray(lm, np.float64)
    c = lm[48:68].mean(0)
    side = max(np.linalg.norm(lm[54] - lm[48]) * 1.9, abs(lm[57, 1] - lm[51, 1]) * 2.2)
    t = (np.arange(size) + 0.5) / size
    d = np.maximum(np.abs(t[None, :] - c[0]), np.abs(t[:, None] - c[1]))     # Chebyshev distance
    ring_px = (d >= side / 2 * ring[0]) & (d < side / 2 * ring[1])
    im = Image.new("L", (size, size), 0)
    poly = np.concatenate([lm[0:17], lm[26:16:-1]]) * size
    ImageDraw.Draw(im).polygon([tuple(q) for q in poly], fill=1)
    return ring_px & (np.asarray(im) > 0)


def colour_gain(tgt, warp, tgt_lm, ring=RING, lo=0.5, hi=2.0):
    """Per-sample, per-channel gain [N, 3] that takes the target's colours to the warp's (that is,
    the reference's light), measured as the ratio of their means over ring_mask (outside the mouth
    box, inside the face). tgt, warp [N, S, S, 3]; 1 where the ring is empty."""
    n, s = len(tgt), tgt.shape[1]
    out = np.ones((n, 3))
    for i in range(n):
        m = ring_mask(tgt_lm[i], s, ring)
        if m.sum() < 16:
            continue
        a = tgt[i][m].astype(np.float64).mean(0)
        b = warp[i][m].astype(np.float64).mean(0)
        out[i] = np.clip((b + 1) / (a + 1), lo, hi)
    return out


def match_colour(tgt, warp, tgt_lm, ring=RING):
    """The targets [N, S, S, 3] uint8 with colour_gain applied: the light of the reference (as the
    warp shows it around the mouth), so that the mouth stage learns the mouth's shape and interior
    but never a colour move of its box away from the warp around it (the tint of a person model
    trained over differently lit sessions, docs/landmarks2face.md)."""
    g = colour_gain(tgt, warp, tgt_lm, ring)
    out = np.empty_like(tgt)
    for a in range(0, len(tgt), 256):
        out[a:a + 256] = np.clip(tgt[a:a + 256].astype(np.float32) * g[a:a + 256, None, None].astype(np.float32)
                                 + 0.5, 0, 255).astype(np.uint8)
    return out, g


def finetune(work, samples_path, minutes, steps, lr=5e-4, batch=12, seed=0, colour_match=True):
    import torch
    import model as Mo
    import train as T
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    tr, va = load_samples(samples_path, colour_match)
    net = Mo.MouthStage()
    ck = work / "ckpt.pt"
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    step, log, spent = 0, [], 0.0
    if ck.exists():
        st = torch.load(ck, weights_only=False)
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        step, log, spent = st["step"], st["log"], st.get("seconds", 0.0)
        g.set_state(st["gen"])
        say(f"fine-tune: resumed at step {step} of {steps} ({spent / 60:.1f} min so far)")
    else:
        net.load_state_dict(generic_state())
        v = T.validate(net, va)
        log.append({"step": 0, "t": 0, **v})
        say(f"fine-tune: {len(tr['owner'])} training samples, {len(va['owner'])} validation; from the generic "
            f"stage: validation mouth box {v['psnr_box']:.2f} dB (the warp alone {v['psnr_box_warp']:.2f})")
    if step >= steps:
        say(f"fine-tune: already done ({step} steps)")
        return ck
    t0 = time.time()
    start = step

    def save():
        tmp = work / "ckpt.tmp"
        torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "log": log,
                    "gen": g.get_state(), "seconds": spent + time.time() - t0, "colour_match": colour_match}, tmp)
        tmp.rename(ck)
    losses = []
    while step < steps and time.time() - t0 < minutes * 60:
        losses.append(T.train_step(net, opt, g, tr, batch, augment, lr * (0.3 if step >= 0.7 * steps else 1.0)))
        step += 1
        if step % 100 == 0:
            el = time.time() - t0
            rec = {"step": step, "loss": float(np.mean(losses)), "t": round(spent + el)}
            if step % 500 == 0:
                rec.update(T.validate(net, va))
            losses = []
            log.append(rec)
            save()
            rate = el / max(step - start, 1)
            left = min((steps - step) * rate, minutes * 60 - el)
            say(f"fine-tune: step {step}/{steps} ({step / steps:.0%}), loss {rec['loss']:.4f}"
                + (f", validation mouth box {rec['psnr_box']:.2f} dB" if "psnr_box" in rec else "")
                + f", {el / 60:.1f} min, about {max(left, 0) / 60:.0f} min left in this run")
    v = T.validate(net, va)
    log.append({"step": step, "t": round(spent + time.time() - t0), "final": True, **v})
    save()
    say(f"fine-tune: step {step}/{steps}, validation mouth box {v['psnr_box']:.2f} dB (generic "
        f"{log[0]['psnr_box']:.2f}, warp {v['psnr_box_warp']:.2f}), {(spent + time.time() - t0) / 60:.1f} min in all"
        + ("" if step >= steps else "; run again to continue"))
    return ck


# ---------------------------------------------------------------- export

def export(ckpt, out, name, minutes_video, chroma):
    import onnx
    import torch
    import export as X
    torch.set_num_threads(1)
    model, stage, st = X.build(str(ckpt), chroma=chroma)
    for p in model.metadata_props:
        if p.key == "talkingface.description":
            p.value = (f"person model '{name}': the learned mouth stage of models/landmarks2face_mouth.onnx "
                       f"fine-tuned on {'' if minutes_video is None else f'{minutes_video:.1f} min of '}this person's video ({st['step']} steps; "
                       f"colour part of its change x{chroma:g}; targets colour-matched to the reference: "
                       f"{'yes' if st.get('colour_match') else 'no'}), after the piecewise-affine landmark warp")
        if p.key == "talkingface.license":
            p.value = ("weights fine-tuned from models/landmarks2face_mouth.onnx, itself trained on the GRID corpus "
                       "(CC BY 4.0, Cooke et al. 2006), on the user's own video")
    out.mkdir(parents=True, exist_ok=True)
    dst = out / "landmarks2face.onnx"
    tmp = out / "landmarks2face.tmp.onnx"
    onnx.save(model, str(tmp))
    df, dm = X.check(tmp, stage)
    if df > 1e-3 or dm > 1e-3:
        raise RuntimeError(f"exported model differs from torch: {df}, {dm}")
    tmp.rename(dst)
    return dst, st


# ---------------------------------------------------------------- the GRID s1 measure

def grid_clips(role_names):
    vdir = realdata.CACHE / "src" / "s1"
    names = sorted(p.stem for p in vdir.glob("*.mpg"))
    if len(names) < 1000:
        raise PersonError(f"{vdir}: GRID s1's videos missing (training/run.sh realdata fetches them)")
    role = realdata.split(names)
    return [vdir / f"{n}.mpg" for n in names if role[n] in role_names], role


def box_colour(o, c, mb):
    """The mouth box's colour offset against its surroundings, in 0-255 RGB: the mean of (generated -
    true) over the box mb (x0, y0, x1, y1) minus the same over the ring around it (the box grown
    twice about its centre, less the box). A tinted square gives a large vector; a generator whose
    box matches the face around it, 0. Returns the vector [3]."""
    s = o.shape[0]
    d = o.astype(np.float64) - c.astype(np.float64)
    x0, y0, x1, y1 = mb
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0), (y1 - y0)
    g = np.clip(np.round([cx - hw, cy - hh, cx + hw, cy + hh]), 0, s).astype(int)
    inner = np.zeros((s, s), bool)
    inner[y0:y1, x0:x1] = True
    outer = np.zeros((s, s), bool)
    outer[g[1]:g[3], g[0]:g[2]] = True
    ring = outer & ~inner
    if not inner.any() or not ring.any():
        return np.zeros(3)
    return d[inner].mean(0) - d[ring].mean(0)


def evaluate(model, work, n_clips, portrait_ref=False, kinds=None, clip_names=None):
    """Self-reenactment on s1's test clips as evaluate.py does (reference = each clip's first good
    frame), or with --portrait-ref the person's portrait as the reference (its crop frame; targets
    and truth cut in it): still, warp, generic learned stage, person model. Adds lip sync: Pearson r
    of the mouth opening (inner-lip gap / width) of the face analysis on the generated crops against
    the same on the true crops, per clip."""
    import evaluate as E
    from talkingface_kit import face
    paths, role = grid_clips({"test"})
    paths = [p for p in paths if p.stem in clip_names] if clip_names else paths[:n_clips]
    kinds = tuple(k for k in ("still", "warp", "generic", "person") if k in kinds) if kinds else \
        ("still", "warp", "generic") + (("person",) if model is not None else ())
    gens = {"warp": E.session(WARP), "generic": E.session(GENERIC)}
    if model is not None:
        gens["person"] = E.session(model)
    missing = [p for p in paths if not (realdata.CACHE / "clips" / f"s1_{p.stem}.npz").exists()]
    if missing:
        say(f"evaluate: {len(missing)} test clips without landmarks (realdata) left out")
        paths = [p for p in paths if p not in missing]
    s = gens["warp"][1]
    fa = face.FaceAnalyzer()
    cache = work / ("evalcache_portrait" if portrait_ref else "evalcache")
    cache.mkdir(parents=True, exist_ok=True)
    if portrait_ref:
        from PIL import Image
        pimg = np.asarray(Image.open(work / "portrait.png").convert("RGB"))
        p68 = np.asarray(fa.landmarks68(pimg), np.float64)
        psim = C.to_crop(p68[36], p68[45])
        pcrop = C.crop_image(pimg, psim, s)
        plm = C.apply(psim, p68).astype(np.float32)
    res = []
    t0 = time.time()
    load0 = open("/proc/loadavg").read().split()[:3]
    for k, path in enumerate(paths):
        d = np.load(realdata.CACHE / "clips" / f"s1_{path.stem}.npz")
        raw, bad = d["raw"].astype(np.float64), d["bad"].astype(bool)
        fr = E.decode(path)
        n = min(len(fr), len(raw))
        if portrait_ref:
            lm = C.apply(psim, raw[:n]).astype(np.float32)
            crops = [C.crop_image(f, psim, s) for f in fr[:n]]
            r, ref_img, rlm_ = -1, pcrop, plm
        else:
            r, lm, crops = E.crop_clip(fr[:n], raw[:n], bad[:n], s)
            ref_img, rlm_ = crops[r], lm[r]
        ref = ref_img.transpose(2, 0, 1)[None].astype(np.float32) / 255
        rlm = rlm_[None]
        idx = [t for t in range(n) if t != r and not bad[t]]
        rec = {"clip": path.stem, "frames": len(idx)}
        tp = cache / f"{path.stem}_true.npy"
        if tp.exists():
            true_pts = np.load(tp)
        else:
            true_pts = E.tracks(face.VideoTracker(fa), crops)
            np.save(tp, true_pts)
        for kind in kinds:
            mp = {"still": None, "warp": WARP, "generic": GENERIC, "person": model}[kind]
            key = cache / f"{path.stem}_{kind}_{E.digest(mp)}.json"
            if key.exists():
                rec[kind] = json.loads(key.read_text())
                if "box_colour" in rec[kind] or not clip_names:   # a few named clips: measured again with
                    continue                                        # box_colour where it is missing
            o = [ref_img] * n if kind == "still" else [E.gen(gens[kind][0], ref, rlm, lm[t][None]) for t in range(n)]
            fp, fs, mpp, ms, bc = [], [], [], [], []
            for t in idx:
                fb, mb = E.boxes(rlm_, lm[t], s)
                bc.append(box_colour(o[t], crops[t], mb))
                sm = E.ssim_map(o[t], crops[t])
                fp.append(E.psnr(o[t][fb[1]:fb[3], fb[0]:fb[2]], crops[t][fb[1]:fb[3], fb[0]:fb[2]]))
                fs.append(sm[fb[1]:fb[3], fb[0]:fb[2]].mean())
                mpp.append(E.psnr(o[t][mb[1]:mb[3], mb[0]:mb[2]], crops[t][mb[1]:mb[3], mb[0]:mb[2]]))
                ms.append(sm[mb[1]:mb[3], mb[0]:mb[2]].mean())
            m = {"face_psnr": float(np.mean(fp)), "face_ssim": float(np.mean(fs)),
                 "mouth_psnr": float(np.mean(mpp)), "mouth_ssim": float(np.mean(ms)),
                 "box_colour": np.mean(bc, 0).tolist(), "box_colour_norm": float(np.mean(np.linalg.norm(bc, axis=1)))}
            pts = E.tracks(face.VideoTracker(fa), o) if kind != "still" else np.repeat(
                E.tracks(face.VideoTracker(fa), [ref_img])[:1], n, 0)
            ds, og, ot = [], [], []
            for t in idx:
                p, q = pts[t], true_pts[t]
                if np.isnan(p).any() or np.isnan(q).any():
                    continue
                ds.append(np.linalg.norm(p[48:68] - q[48:68], axis=-1).mean() / np.linalg.norm(q[45] - q[36]) * 100)
                og.append(C.opening(p))
                ot.append(C.opening(q))
            m["mouth_lmd"] = float(np.mean(ds)) if ds else None
            m["opening_r"] = (float(np.corrcoef(og, ot)[0, 1]) if len(og) > 2 and np.std(og) > 1e-9
                              and np.std(ot) > 1e-9 else None)
            m["opening"] = [og, ot]
            key.write_text(json.dumps(m))
            rec[kind] = m
        res.append(rec)
        say(f"evaluate: {k + 1}/{len(paths)} {path.stem}: mouth PSNR " + ", ".join(
            f"{kk} {rec[kk]['mouth_psnr']:.2f}" for kk in kinds)
            + f" ({time.time() - t0:.0f} s)")
    summary = {"clips": len(res), "reference": "the person's portrait" if portrait_ref else "each clip's first good frame"}
    for kind in kinds:
        summary[kind] = {}
        for m in ("face_psnr", "face_ssim", "mouth_psnr", "mouth_ssim", "mouth_lmd", "opening_r", "box_colour_norm"):
            v = [r[kind][m] for r in res if r[kind].get(m) is not None]
            summary[kind][m] = float(np.mean(v)) if v else None
        og = np.concatenate([r[kind]["opening"][0] for r in res])
        ot = np.concatenate([r[kind]["opening"][1] for r in res])
        summary[kind]["opening_r_pooled"] = float(np.corrcoef(og, ot)[0, 1]) if og.std() > 0 else None
    if model is not None and "person" in kinds and "generic" in kinds:
        wins = {m: int(sum(r["person"][m] > r["generic"][m] for r in res)) for m in ("mouth_psnr", "mouth_ssim")}
        wins["mouth_lmd"] = int(sum((r["person"]["mouth_lmd"] or 99) < (r["generic"]["mouth_lmd"] or 99) for r in res))
        summary["person_better_than_generic_clips"] = wins
    out = {"model": str(model), "summary": summary, "seconds": round(time.time() - t0), "loadavg_at_start": load0,
           "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
           "clips": [{k: (v if not isinstance(v, dict) else {a: b for a, b in v.items() if a != "opening"})
                      for k, v in r.items()} for r in res]}
    dst = work / (("eval_portrait" if portrait_ref else "eval") + ("" if model is not None else "_baselines")
                  + ("_" + "_".join(kinds) if kinds != ("still", "warp", "generic", "person") and model is not None else "")
                  + ("_clips" if clip_names else "") + ".json")
    dst.write_text(json.dumps(out, indent=1))
    print(json.dumps(summary, indent=1))
    return out


def skin_tint(o, w, lm):
    """Mean colour change [3] (0-255 RGB) of a generated crop o against the warp's w over the skin of
    the mouth stage's box (model.py's box around lm [68, 2], crop units; the outer lips' polygon grown
    1.3 times about its centre left out): what the stage adds to the skin around the mouth, a tint
    where it is far from 0. Needs no true frame."""
    from PIL import Image, ImageDraw
    s = o.shape[0]
    box = ring_mask(lm, s, (0.0, 1.0))   # the box itself (inside the face)
    c = lm[48:60].mean(0)
    lips = Image.new("L", (s, s), 0)
    ImageDraw.Draw(lips).polygon([tuple(q) for q in ((lm[48:60] - c) * 1.3 + c) * s], fill=1)
    m = box & ~(np.asarray(lips) > 0)
    return (o[m].astype(np.float64) - w[m].astype(np.float64)).mean(0) if m.any() else np.zeros(3)


def portrait_drive(work, models, n_clips, dst=None):
    """The person's portrait (work/portrait.png) driven by the mouth motion of s1's first n test clips
    (the portrait's landmarks plus each frame's change from the clip's first good frame, in the crop
    frame), as the element uses it: per model, the mean |skin_tint| against the warp over all frames;
    with dst, a figure of the first clip's three most open frames (rows warp, then the models)."""
    from PIL import Image
    import evaluate as E
    import figures as Fg
    from talkingface_kit import face
    warp, s = E.session(WARP)
    sess = {k: E.session(pathlib.Path(v).expanduser())[0] for k, v in models}
    fa = face.FaceAnalyzer()
    pimg = np.asarray(Image.open(work / "portrait.png").convert("RGB"))
    p68 = np.asarray(fa.landmarks68(pimg), np.float64)
    psim = C.to_crop(p68[36], p68[45])
    pref = C.crop_image(pimg, psim, s).transpose(2, 0, 1)[None].astype(np.float32) / 255
    plm = C.apply(psim, p68).astype(np.float32)
    paths, _ = grid_clips({"test"})
    paths = [p for p in paths if (realdata.CACHE / "clips" / f"s1_{p.stem}.npz").exists()][:n_clips]
    tint = {k: [] for k in sess}
    rows = None
    for ci, path in enumerate(paths):
        d = np.load(realdata.CACHE / "clips" / f"s1_{path.stem}.npz")
        raw, bad = d["raw"].astype(np.float64), d["bad"].astype(bool)
        r = int(np.flatnonzero(~bad)[0])
        lm = C.apply(C.to_crop(raw[r, 36], raw[r, 45]), raw).astype(np.float32)
        ts = [t for t in range(len(raw)) if not bad[t] and t != r]
        show = Fg.open_frames(lm, bad, r) if dst and ci == 0 else []
        if show:
            rows = {"warp": [], **{k: [] for k in sess}}
        for t in ts:
            tgt = (plm + (lm[t] - lm[r]))[None]
            w = E.gen(warp, pref, plm[None], tgt)
            if t in show:
                rows["warp"].append(Fg.label(w, f"warp, portrait + {path.stem} t={t}"))
            for k, g in sess.items():
                o = E.gen(g, pref, plm[None], tgt)
                tint[k].append(skin_tint(o, w, tgt[0]))
                if t in show:
                    rows[k].append(Fg.label(o, k))
        say(f"portrait drive: {ci + 1}/{len(paths)} {path.stem}")
    out = {"clips": [p.stem for p in paths], "frames": len(tint[models[0][0]]),
           "skin_tint_vs_warp": {k: {"mean_norm": float(np.mean(np.linalg.norm(v, axis=1))),
                                     "mean_rgb": np.mean(v, 0).round(2).tolist()} for k, v in tint.items()}}
    (work / "portrait_drive.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    if dst and rows:
        Image.fromarray(np.concatenate([np.concatenate(rw, 1) for rw in rows.values()], 0)).save(dst, optimize=True)
        say(f"figure: {dst}")


def figure(model, clip, dst, compare=()):
    """A held-out s1 test clip (the first of realdata.split's test list with landmarks): the three most
    open frames, self-reenacted from the clip's first good frame: rows real / warp / generic learned
    stage / person model; with compare [(label, model path)], those rows in place of the generic's,
    before the person model's."""
    from PIL import Image
    import evaluate as E
    import figures as Fg
    paths, _ = grid_clips({"test"})
    path = next(p for p in paths if (realdata.CACHE / "clips" / f"s1_{p.stem}.npz").exists()
                and (not clip or p.stem == clip))
    d = np.load(realdata.CACHE / "clips" / f"s1_{path.stem}.npz")
    raw, bad = d["raw"].astype(np.float64), d["bad"].astype(bool)
    fr = E.decode(path)
    n = min(len(fr), len(raw))
    gens = {"warp": E.session(WARP)[0]}
    if compare:
        gens.update((k, E.session(pathlib.Path(v).expanduser())[0]) for k, v in compare)
    else:
        gens["generic learned"] = E.session(GENERIC)[0]
    gens["person"] = E.session(model)[0]
    r, lm, crops = E.crop_clip(fr[:n], raw[:n], bad[:n], 256)
    ts = Fg.open_frames(lm, bad[:n], r)
    ref = crops[r].transpose(2, 0, 1)[None].astype(np.float32) / 255
    rows = [[Fg.label(crops[t], f"real s1 {path.stem} t={t}") for t in ts]]
    for k, g in gens.items():
        rows.append([Fg.label(E.gen(g, ref, lm[r][None], lm[t][None]), k) for t in ts])
    Image.fromarray(np.concatenate([np.concatenate(rw, 1) for rw in rows], 0)).save(dst, optimize=True)
    say(f"figure: {dst} (clip {path.stem}, frames {ts})")


# ---------------------------------------------------------------- main

def run(a):
    t_all = time.time()
    if a.grid_s1:
        name = a.name or "grid_s1"
        paths, role = grid_clips({"train", "val"})
        if a.clips:
            paths = paths[:a.clips]
        cached = lambda p: (realdata.CACHE / "clips" / f"s1_{p.stem}.npz") \
            if (realdata.CACHE / "clips" / f"s1_{p.stem}.npz").exists() else None
        val_of = lambda p: role[p.stem] == "val"
    else:
        if not a.video:
            raise PersonError("give VIDEO (a file, a folder of clips or a .txt list of clips), or --grid-s1")
        paths = clip_paths(a.video)
        name = a.name or pathlib.Path(a.video).stem
        cached, val_of = None, None
    if not name.replace("_", "").replace("-", "").isalnum():
        raise PersonError(f"NAME {name!r}: letters, digits, - and _ only")
    work = PERSON / name
    out = pathlib.Path(a.out).expanduser() if a.out else OUT_ROOT / name
    work.mkdir(parents=True, exist_ok=True)
    if a.evaluate:
        model = None if a.baselines else out / "landmarks2face.onnx"
        if model is not None and not model.exists():
            raise PersonError(f"{model}: not made yet (run without --evaluate first)")
        if a.portrait_drive:
            portrait_drive(work, [c.split("=", 1) for c in a.figure_compare] + [("person", str(model))],
                           a.portrait_drive, a.figure)
            return
        if a.figure:
            figure(model, a.figure_clip, a.figure, [c.split("=", 1) for c in a.figure_compare])
            return
        evaluate(model, work, a.eval_clips, a.portrait_ref, a.eval_kinds.split(",") if a.eval_kinds else None,
                 a.eval_names.split(",") if a.eval_names else None)
        return
    say(f"{name}: {len(paths)} clip(s); work in {work}, output to {out}")
    if a.export_only:
        dst, st = export(work / "ckpt.pt", out, name, None, a.chroma)
        import shutil
        shutil.copyfile(work / "portrait.png", out / "portrait.png")
        say(f"exported {dst} ({st['step']} steps, chroma {a.chroma:g})")
        return
    clips = analyse(paths, work, cached)
    video_s = sum(len(r["bad"]) for _, r in clips) / FPS
    sp = cut(clips, work, a.samples, C.S_TRAIN, a.seed, val_of)
    t_ft = time.time()
    ck = finetune(work, sp, a.minutes, a.steps, lr=a.lr, seed=a.seed, colour_match=bool(a.colour_match))
    t_ft = time.time() - t_ft
    dst, st = export(ck, out, name, video_s / 60, a.chroma)
    import shutil
    shutil.copyfile(work / "portrait.png", out / "portrait.png")
    art = articulation(clips)
    if art is None:
        expr = 1.0
        say("articulation: no clip with sound and a second of good frames; expressiveness stays 1")
    else:
        expr = art[0]
        say(f"articulation: the person's mouth opening spreads {art[1]:.4f}, the default speech model's on their "
            f"sound {art[2]:.4f}: audio2landmarks expressiveness={expr:.2f} would match them (not applied: "
            f"docs/landmarks2face.md, \"Person mode\", says when it helps)")
    (out / "README.txt").write_text(
        f"Person model '{name}' made by training/l2f/person.py from {len(clips)} clip(s), {video_s / 60:.1f} min:\n"
        f"landmarks2face.onnx (the model contract of docs/model-contract.md) and portrait.png (a frame of the video).\n"
        f"The mouth stage was fine-tuned from models/landmarks2face_mouth.onnx, whose weights were trained on the\n"
        f"GRID audio-visual sentence corpus (Cooke, Barker, Cunningham and Shao, JASA 120(5), 2006; CC BY 4.0).\n"
        f"Articulation: audio2landmarks expressiveness={expr:.2f} would make the default speech model open this\n"
        f"person's mouth as much as they do in the video (person.py's articulation(); measured, not applied).\n")
    summ = {"name": name, "clips": len(clips), "video_minutes": round(video_s / 60, 2), "steps": st["step"],
            "finetune_minutes_total": round(st.get("seconds", 0) / 60, 1), "this_run_minutes": round((time.time() - t_all) / 60, 1),
            "validation": st["log"][-1], "validation_generic": st["log"][0], "model": str(dst),
            "expressiveness": round(expr, 3), "articulation": None if art is None else [round(v, 5) for v in art]}
    (work / "summary.json").write_text(json.dumps(summ, indent=1))
    say(f"done in {(time.time() - t_all) / 60:.1f} min: {dst} and {out / 'portrait.png'}")
    say("use them with:")
    print(f"  gst-launch-1.0 filesrc location=SPEECH.wav ! decodebin ! audioconvert ! audioresample ! "
          f"audio2landmarks ! landmarks2face model={dst} portrait={out / 'portrait.png'} ! videoconvert ! "
          f"autovideosink", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Person mode: fine-tune landmarks2face to one person's video.")
    ap.add_argument("video", nargs="?", help="a video file, a folder of clips, or a .txt list of clips")
    ap.add_argument("name_pos", nargs="?", metavar="NAME", help="the person's name (default: the file's name)")
    ap.add_argument("--name")
    ap.add_argument("--out", help="output folder (default ~/.cache/talkingface/person/NAME)")
    ap.add_argument("--minutes", type=float, default=40, help="fine-tuning minutes in this run (default 40)")
    ap.add_argument("--steps", type=int, default=4000, help="fine-tuning steps in all (default 4000)")
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--chroma", type=float, default=1.0,
                    help="colour part of the stage's change (1: as fine-tuned, the default; 0: brightness only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--colour-match", type=int, default=1, choices=(0, 1),
                    help="1 (default): training targets taken to their reference's light around the mouth box "
                         "(match_colour); 0: as they are (the tint over differently lit sessions)")
    ap.add_argument("--grid-s1", action="store_true", help="GRID s1's train+val clips as the video (the measure)")
    ap.add_argument("--clips", type=int, default=0, help="with --grid-s1: only the first N clips")
    ap.add_argument("--evaluate", action="store_true", help="with --grid-s1: measure on s1's test clips")
    ap.add_argument("--eval-clips", type=int, default=100)
    ap.add_argument("--baselines", action="store_true", help="with --evaluate: still, warp and generic only")
    ap.add_argument("--eval-kinds", help="with --evaluate: only these generators (comma-separated of "
                                         "still,warp,generic,person)")
    ap.add_argument("--eval-names", help="with --evaluate: only these test clips (comma-separated names)")
    ap.add_argument("--figure", help="with --evaluate: write the side-by-side figure of a test clip to this PNG")
    ap.add_argument("--figure-clip", help="with --figure: this test clip (default: the first)")
    ap.add_argument("--figure-compare", action="append", default=[], metavar="LABEL=MODEL",
                    help="with --figure: a row of this model in place of the generic stage's (repeatable)")
    ap.add_argument("--export-only", action="store_true", help="export the checkpoint again (e.g. another --chroma)")
    ap.add_argument("--portrait-ref", action="store_true", help="with --evaluate: the portrait as the reference")
    ap.add_argument("--portrait-drive", type=int, default=0, metavar="N",
                    help="with --evaluate: the portrait driven by N test clips' mouth motion; the skin tint "
                         "of each model's mouth box against the warp (--figure-compare adds models, --figure "
                         "writes a picture)")
    a = ap.parse_args(argv)
    a.name = a.name or a.name_pos
    try:
        run(a)
    except PersonError as e:
        print(f"person: error: {e}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("person: interrupted; run the same command again to continue", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
