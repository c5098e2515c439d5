"""The real audio-visual corpus: GRID speaker s1 (1000 sentences) and the shared GRID clips.

python -m talkingface_kit.realdata          # (training/run.sh realdata) fetch, decode, landmarks, cache

What it does, per clip, seeded and cached in ~/.cache/talkingface/realdata (TALKINGFACE_CACHE):
1. fetch: the s1 videos are blobs of the public repository osalinasv/lipnet (commit C_LIPNET, folder
   preprocessing/videos/s1), the word alignments blobs of AnshSareen/Deep-Learning-Based-Lip-Reading
   (transcripts/sN/align). Both are read from local git mirrors (the project's `fetch` of
   github:osalinasv/lipnet and github:AnshSareen/Deep-Learning-Based-Lip-Reading; set
   TALKINGFACE_LIPNET_GIT / TALKINGFACE_ALIGN_GIT to their git directories, or clone them yourself).
2. decode (ffmpeg of the PyPI imageio-ffmpeg): RGB frames and 16 kHz mono audio.
3. landmarks: the kit's face analysis (talkingface_kit.face.VideoTracker, MediaPipe's detector and
   landmarker converted to ONNX, mapped to the 68 iBUG points). TALKINGFACE_FACE=dlib uses dlib's
   68-point model instead (prototyping only; its training data excludes commercial use).
4. canonical frame as the kit does it (canon.pin_eyes: eye pinning; grid.identity_removed: the clip's
   neutral face, the mean of its 10% most closed-mouth frames, replaced by models/mean_face.txt).
5. quality filters: frames without a face and frames whose landmarks jump (mean point motion over the
   inter-ocular distance above JUMP) are marked bad and filled by interpolation; a clip with more than
   MAX_BAD of them is skipped. A clip that does not decode, is silent, has no face or (s1) has no
   word alignment is skipped and counted; nothing crashes on one bad clip.
6. the contract's audio features (talkingface_kit.features, the element's front end).
7. split: 100 s1 sentences held out for evaluation (seeded, SPLIT_SEED), 50 more for validation;
   the rest is training. The shared clips of the other speakers (../shared/data/grid, except s1's
   bbaf2n) are evaluation only.

Writes clips/<speaker>_<clip>.npz, corpus.pkl (what training reads), summary.json, and README.md
with the licence and attribution (GRID: CC BY 4.0).
"""
from __future__ import annotations

import json
import os
import pathlib
import pickle
import subprocess
import sys
import time

import numpy as np

from . import canon, features, grid

CACHE = pathlib.Path(os.environ.get("TALKINGFACE_CACHE", pathlib.Path.home() / ".cache" / "talkingface")) / "realdata"
LIPNET_GIT = pathlib.Path(os.environ.get("TALKINGFACE_LIPNET_GIT", "/work/.mirror/osalinasv+lipnet/repo/.git"))
ALIGN_GIT = pathlib.Path(os.environ.get("TALKINGFACE_ALIGN_GIT",
                                        "/work/.mirror/AnshSareen+Deep-Learning-Based-Lip-Reading/repo"))
C_LIPNET = "c4509392851a25471a3c345dc1121cfa38b600e5"  # 'Starting the preprocess': holds videos/s1
S1_DIR = "preprocessing/videos/s1"
FACE = os.environ.get("TALKINGFACE_FACE", "face")  # face (the kit's ONNX face analysis) | dlib
SR, HOP, FPS = 16000, 640, 25
N_FRAMES = 75
SPLIT_SEED = 9
N_TEST, N_VAL = 100, 50
JUMP = 0.12          # mean landmark motion between frames / inter-ocular distance
MAX_BAD = 0.10       # fraction of bad frames that skips a clip
SILENT_RMS = 1e-3
# The shared GRID clips of ../shared/data/grid and their speakers (found in the alignment repository).
SHARED = {"bbaf2n": "s1", "brbk7n": "s20", "lbax4n": "s5", "lbbc2a": "s22", "sbwe5n": "s32"}
META = {"sample_rate": "16000", "hop_length": "640", "win_length": "1024", "n_fft": "1024", "n_mels": "40",
        "fmin": "60", "fmax": "7600", "features": "logmel,delta,delta2"}

ATTRIBUTION = """# Real audio-visual speech: GRID corpus (derived data)

Source: the GRID audio-visual sentence corpus, M. Cooke, J. Barker, S. Cunningham and X. Shao, "An
audio-visual corpus for speech perception and automatic speech recognition", Journal of the Acoustical
Society of America 120(5), 2006. Licence: Creative Commons Attribution 4.0 International (CC BY 4.0),
https://creativecommons.org/licenses/by/4.0/ . Keep this attribution with the data and with figures
derived from it.

- Speaker s1 videos (1000 sentences, 360x288 MPEG-1 with audio), as redistributed in the public
  repository github.com/osalinasv/lipnet (commit {commit}, folder {s1dir}).
- Word alignments of the GRID corpus, as redistributed in github.com/AnshSareen/Deep-Learning-Based-Lip-Reading
  (transcripts/sN/align; units of 1/25000 s).
- Five clips of speakers s1, s5, s20, s22, s32 from ../shared/data/grid (evaluation only).

Changes made here (talkingface training kit, training/talkingface_kit/realdata.py): decoded to 16 kHz
mono audio and 25 fps frames; 68 facial landmarks per frame by the kit's face analysis ({face});
eye pinning and identity removal; audio features of the audio2landmarks front end. The cache holds
these derived arrays and the word alignments, not the videos' pixels.
"""


def git(gitdir: pathlib.Path, *args) -> bytes:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], check=True, capture_output=True).stdout


def fetch() -> dict:
    """Copies the s1 videos and the alignments of the speakers used out of the git mirrors into the
    cache (once). Returns counts."""
    vdir, adir = CACHE / "src" / "s1", CACHE / "src" / "align"
    vdir.mkdir(parents=True, exist_ok=True); adir.mkdir(parents=True, exist_ok=True)
    have = {p.stem for p in vdir.glob("*.mpg")}
    if len(have) < 1000:
        if not LIPNET_GIT.exists():
            raise SystemExit(f"realdata: {LIPNET_GIT} missing: fetch github:osalinasv/lipnet (or set TALKINGFACE_LIPNET_GIT)")
        for line in git(LIPNET_GIT, "ls-tree", C_LIPNET, S1_DIR + "/").decode().splitlines():
            meta, path = line.split("\t")
            name = pathlib.Path(path).name
            if not name.endswith(".mpg") or pathlib.Path(name).stem in have:
                continue
            (vdir / name).write_bytes(git(LIPNET_GIT, "cat-file", "blob", meta.split()[2]))
    agit = ALIGN_GIT / ".git" if (ALIGN_GIT / ".git").exists() else ALIGN_GIT
    for spk in sorted(set(SHARED.values())):
        out = adir / spk
        if out.exists() and any(out.iterdir()):
            continue
        out.mkdir(exist_ok=True)
        try:
            listing = git(agit, "ls-tree", "HEAD", f"transcripts/{spk}/align/").decode().splitlines()
        except (subprocess.CalledProcessError, FileNotFoundError):
            print(f"realdata: no alignments for {spk} ({agit})", flush=True)
            continue
        for line in listing:
            meta, path = line.split("\t")
            (out / pathlib.Path(path).name).write_bytes(git(agit, "cat-file", "blob", meta.split()[2]))
    return {"s1_videos": len(list(vdir.glob("*.mpg"))),
            "alignments": {p.name: len(list(p.glob("*.align"))) for p in sorted(adir.iterdir())}}


def read_align(path: pathlib.Path):
    """[(word, start s, end s)] with 'sil' for silences; GRID units are 1/25000 s."""
    out = []
    for line in path.read_text().split("\n"):
        f = line.split()
        if len(f) == 3:
            out.append((f[2], int(f[0]) / 25000.0, int(f[1]) / 25000.0))
    if not out:
        raise ValueError("empty alignment")
    return out


_PRON = None


def word_phones(words):
    """Words with times -> [(ARPAbet phone, start, end)] with each word's duration shared evenly among
    the phones of its CMUdict pronunciation (pocketsphinx's dictionary); silences as 'SIL'. Rough (no
    acoustic alignment inside words), for the phoneme head and the teacher ablation."""
    global _PRON
    if _PRON is None:
        from pocketsphinx import get_model_path
        _PRON = {}
        with open(os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")) as f:
            for line in f:
                w, *ph = line.split()
                if "(" not in w:
                    _PRON[w] = [p.rstrip("012") for p in ph]
    out = []
    for w, s, e in words:
        if w in ("sil", "sp"):
            out.append(("SIL", s, e)); continue
        ph = _PRON.get(w.lower(), ["AX"])
        step = (e - s) / len(ph)
        out += [(p, s + i * step, s + (i + 1) * step) for i, p in enumerate(ph)]
    return out


def decode(path: pathlib.Path):
    """(RGB frames [N, H, W, 3] uint8, audio f32 16 kHz mono)."""
    exe = grid.ffmpeg()
    v = subprocess.run([exe, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                       check=True, capture_output=True, timeout=120).stdout
    frames = np.frombuffer(v, dtype=np.uint8)
    if frames.size == 0 or frames.size % (grid.H * grid.W * 3):
        raise ValueError(f"video: {frames.size} bytes")
    frames = frames.reshape(-1, grid.H, grid.W, 3)
    a = subprocess.run([exe, "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(SR), "-f", "s16le", "-"],
                       check=True, capture_output=True, timeout=120).stdout
    audio = np.frombuffer(a, dtype=np.int16).astype(np.float32) / 32768.0
    return frames, audio


class _Dlib:
    name = "dlib 68-point shape predictor (prototype)"

    def __init__(self):
        import dlib
        self.det = dlib.get_frontal_face_detector()
        self.pred = dlib.shape_predictor(grid.PREDICTOR)
        self.rect = None

    def process(self, rgb):
        rects = self.det(rgb, 0)
        if rects:
            self.rect = max(rects, key=lambda r: r.width() * r.height())
        if self.rect is None:
            return None
        s = self.pred(rgb, self.rect)
        return np.array([(p.x, p.y) for p in s.parts()], np.float64)


def tracker_factory():
    """A fresh per-clip tracker: the kit's face analysis, or dlib for prototyping."""
    if FACE == "dlib":
        return _Dlib, _Dlib.name
    from . import face
    fa = face.FaceAnalyzer(canon.MODELS_DIR)   # one analyzer (ONNX sessions), a fresh tracker per clip

    def make():
        return face.VideoTracker(fa)
    return make, "talkingface_kit.face.VideoTracker (MediaPipe face detector + landmarker, ONNX, mapped to iBUG 68)"


def face_fingerprint() -> str:
    """sha256 of the face analysis code and its model files (a new version invalidates the cache)."""
    import hashlib
    h = hashlib.sha256()
    files = [pathlib.Path(grid.PREDICTOR)] if FACE == "dlib" else \
        [pathlib.Path(__file__).with_name("face.py"), canon.MODELS_DIR / "face_detector.onnx",
         canon.MODELS_DIR / "face_landmarks.onnx"]
    for f in files:
        h.update(f.read_bytes() if f.exists() else b"-")
    return h.hexdigest()


def track(frames, make_tracker):
    """Landmarks [N,68,2] in pixels (bad frames interpolated) and the bad-frame mask [N]."""
    tr = make_tracker()
    n = len(frames)
    raw = np.full((n, 68, 2), np.nan)
    for i, f in enumerate(frames):
        p = tr.process(np.ascontiguousarray(f))
        if p is not None:
            p = np.asarray(p, np.float64).reshape(68, 2)
            if np.isfinite(p).all():
                raw[i] = p
    return clean(raw)


def clean(raw):
    """Tracked landmarks [N,68,2] (NaN where no face) -> (landmarks with the bad frames interpolated,
    the bad-frame mask [N]): no face, or a jump (a frame far from both neighbours)."""
    raw = raw.copy()
    n = len(raw)
    bad = np.isnan(raw[:, 0, 0])
    # jumps: a frame that moves far from both neighbours (or from its only neighbour) is an outlier
    iod = np.nanmedian(np.linalg.norm(raw[:, 45] - raw[:, 36], axis=-1)) if (~bad).any() else np.nan
    if np.isfinite(iod):
        for i in range(n):
            if bad[i]:
                continue
            d = []
            for j in (i - 1, i + 1):
                if 0 <= j < n and not np.isnan(raw[j, 0, 0]):
                    d.append(np.linalg.norm(raw[i] - raw[j], axis=-1).mean() / iod)
            if d and min(d) > JUMP:
                bad[i] = True
    good = np.flatnonzero(~bad)
    if good.size >= 2:
        for k in range(68):
            for c in range(2):
                raw[:, k, c] = np.interp(np.arange(n), good, raw[good, k, c])
    return raw, bad


def clip_list():
    """[(speaker, clip, video path, alignment path or None)]: s1's 1000 and the shared clips."""
    vdir, adir = CACHE / "src" / "s1", CACHE / "src" / "align"
    out = [("s1", p.stem, p, adir / "s1" / f"{p.stem}.align") for p in sorted(vdir.glob("*.mpg"))]
    for c, spk in SHARED.items():
        if spk == "s1":
            continue  # the shared bbaf2n is s1's own clip (in the list above)
        out.append((spk, c, grid.GRID_DIR / f"{c}.mpg", adir / spk / f"{c}.align"))
    return out


def split(names):
    """s1 clip name -> 'test' | 'val' | 'train' (seeded permutation of the sorted names)."""
    names = sorted(names)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(names))
    role = {}
    for r, i in enumerate(perm):
        role[names[i]] = "test" if r < N_TEST else "val" if r < N_TEST + N_VAL else "train"
    return role


def process(spk, clip, video, align_path, make_tracker, mean_face):
    """One clip -> dict or raises ValueError(reason)."""
    out_path = CACHE / "clips" / f"{spk}_{clip}.npz"
    if out_path.exists():
        d = np.load(out_path, allow_pickle=False)
        return {k: d[k] for k in d.files}
    if not video.exists():
        raise ValueError("missing video")
    try:
        frames, audio = decode(video)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError) as e:
        raise ValueError(f"corrupt: {str(e)[:80]}") from None
    if len(frames) < N_FRAMES - 5 or audio.size < (N_FRAMES - 5) * HOP:
        raise ValueError(f"corrupt: {len(frames)} frames, {audio.size} samples")
    if np.sqrt(np.mean(audio.astype(np.float64) ** 2)) < SILENT_RMS:
        raise ValueError("silent")
    words = None
    if align_path is not None and align_path.exists():
        try:
            words = read_align(align_path)
        except (ValueError, OSError):
            words = None
    if words is None and spk == "s1":
        raise ValueError("no alignment")
    raw, bad = track(frames, make_tracker)
    if bad.all():
        raise ValueError("no face")
    if bad.mean() > MAX_BAD:
        raise ValueError(f"bad frames {bad.mean():.2f}")
    n = len(frames)
    pinned = canon.pin_eyes(raw)
    canon_lm = grid.identity_removed(pinned, mean_face)
    feats = features.features(audio, META, n_frames=n)
    d = {"audio": (np.clip(audio, -1, 1) * 32767).astype(np.int16), "raw": raw.astype(np.float32),
         "pinned": pinned.astype(np.float32), "canon": canon_lm.astype(np.float32), "bad": bad,
         "opening": canon.mouth_opening(pinned).astype(np.float32), "features": feats,
         "words": np.array(json.dumps(words or []))}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **d)
    tmp.rename(out_path)
    return d


def main(argv):
    t0 = time.time()
    CACHE.mkdir(parents=True, exist_ok=True)
    src = fetch()
    print(f"realdata: fetched {src}", flush=True)
    make_tracker, face_name = tracker_factory()
    # the cache's landmarks belong to one face analysis: a change of it starts the clips afresh
    stamp = CACHE / "clips" / "FACE"
    (CACHE / "clips").mkdir(parents=True, exist_ok=True)
    face_id = face_name + "\n" + face_fingerprint()
    if stamp.exists() and stamp.read_text() != face_id:
        print("realdata: the face analysis changed: landmarks are made afresh", flush=True)
        for p in (CACHE / "clips").glob("*.npz"):
            p.unlink()
    stamp.write_text(face_id)
    mean_face = canon.load_mean_face()
    clips = clip_list()
    limit = int(os.environ.get("REALDATA_LIMIT", "0"))
    if limit:
        clips = clips[:limit] + [c for c in clips if c[0] != "s1"]
    # REALDATA_SHARD=k/n: fill the per-clip cache for every n-th clip only (run n of them at once on
    # n cores), then one plain run gathers the corpus from the cache
    shard = os.environ.get("REALDATA_SHARD", "")
    if shard:
        k_sh, n_sh = (int(x) for x in shard.split("/"))
        clips = clips[k_sh::n_sh]
    role = split([c for s, c, *_ in clip_list() if s == "s1"])
    skipped, items, bad_frames = {}, [], 0
    for k, (spk, clip, video, ap) in enumerate(clips):
        try:
            d = process(spk, clip, video, ap, make_tracker, mean_face)
        except ValueError as e:
            reason = str(e).split(":")[0].split(" 0.")[0]
            skipped[reason] = skipped.get(reason, 0) + 1
            print(f"realdata: skip {spk}/{clip}: {e}", flush=True)
            continue
        except Exception as e:  # never crash on one clip; count it
            skipped["error"] = skipped.get("error", 0) + 1
            print(f"realdata: skip {spk}/{clip}: {type(e).__name__}: {e}", flush=True)
            continue
        bad_frames += int(d["bad"].sum())
        words = json.loads(str(d["words"]))
        items.append({"name": clip, "speaker": spk, "role": role.get(clip, "eval") if spk == "s1" else "eval",
                      "audio": d["audio"], "canon": d["canon"], "pinned": d["pinned"], "bad": d["bad"],
                      "opening": d["opening"], "features": d["features"], "words": words,
                      "phones": word_phones(words) if words else []})
        if (k + 1) % 50 == 0:
            print(f"realdata: {k + 1}/{len(clips)} clips, {time.time() - t0:.0f} s", flush=True)
    if shard:
        print(f"realdata: shard {shard}: {len(items)} clips cached, skipped {skipped}", flush=True)
        return
    with open(CACHE / "corpus.pkl.tmp", "wb") as f:
        pickle.dump(items, f, protocol=4)
    os.replace(CACHE / "corpus.pkl.tmp", CACHE / "corpus.pkl")
    roles = {}
    for it in items:
        key = f"{it['speaker']}:{it['role']}" if it["speaker"] == "s1" else "other speakers:eval"
        roles[key] = roles.get(key, 0) + 1
    summary = {"clips_total": len(clips), "clips_kept": len(items), "skipped": skipped,
               "bad_frames_interpolated": bad_frames, "roles": roles, "face_analysis": face_name,
               "split_seed": SPLIT_SEED, "source_commit": C_LIPNET, "seconds": round(time.time() - t0, 1)}
    (CACHE / "summary.json").write_text(json.dumps(summary, indent=1))
    (CACHE / "README.md").write_text(ATTRIBUTION.format(commit=C_LIPNET, s1dir=S1_DIR, face=face_name))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
