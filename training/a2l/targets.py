"""Teacher targets: timed phones -> per-frame mouth opening/width -> 68 canonical points.

Opening per phone relative to AY = 1 (closing silence 0), guided by the fitted GRID values in
/work/shared/NOTES.md; width (spread +, rounded -). Cohen-Massaro style blending: dominance
alpha * exp(-RATE * distance to the phone's core), normalised weighted sum.
"""
import os
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MEAN_FACE = np.loadtxt(os.path.join(ROOT, "models", "mean_face.txt")).astype(np.float32)  # [68,2]
SR, HOP, FPS = 16000, 640, 25.0
RATE = 60.0            # dominance decay, 1/s
BEFORE_SPEECH = 0.4    # opening in the silence just before speech
BEFORE_SPAN = 0.20     # s of silence before an onset that get the 'before speech' target
FINAL_CAP = 0.25       # s, cap on a phone followed by silence

# ARPAbet class -> (opening, width, dominance alpha)
TABLE = {
    "AA": (1.00, 0.0, 1.0), "AY": (1.00, 0.1, 1.0), "AW": (1.00, -0.3, 1.0), "AE": (0.80, 0.4, 1.0),
    "EH": (0.85, 0.4, 1.0), "EY": (0.80, 0.7, 1.0), "AO": (0.75, -0.5, 1.0), "AH": (0.60, 0.0, 1.0),
    "AX": (0.35, 0.0, 0.6), "ER": (0.40, -0.4, 1.0), "IH": (0.50, 0.5, 1.0), "IY": (0.45, 1.0, 1.0),
    "UH": (0.40, -0.6, 1.0), "UW": (0.35, -1.0, 1.2), "OW": (0.60, -0.8, 1.0), "OY": (0.70, -0.4, 1.0),
    "B": (0.0, 0.0, 3.0), "P": (0.0, 0.0, 3.0), "M": (0.0, 0.0, 3.0),
    "F": (0.10, 0.1, 2.0), "V": (0.10, 0.1, 2.0), "W": (0.20, -1.0, 1.5), "R": (0.30, -0.5, 0.8),
    "L": (0.50, 0.0, 0.6), "DH": (0.45, 0.0, 0.7), "TH": (0.45, 0.0, 0.7), "S": (0.40, 0.5, 0.8),
    "Z": (0.40, 0.5, 0.8), "SH": (0.40, -0.6, 1.0), "ZH": (0.40, -0.6, 1.0), "CH": (0.35, -0.6, 1.0),
    "JH": (0.35, -0.6, 1.0), "T": (0.40, 0.2, 0.6), "D": (0.40, 0.2, 0.6), "N": (0.40, 0.2, 0.5),
    "K": (0.50, 0.0, 0.5), "G": (0.50, 0.0, 0.5), "NG": (0.45, 0.0, 0.5), "HH": (0.60, 0.0, 0.3),
    "Y": (0.40, 0.6, 0.8),
}
SIL = {"_", "pau", "sil", "SIL", "h#", "#", ""}  # SIL: pocketsphinx
# espeak-ng MBROLA symbols (us1/us2/us3 SAMPA, en1) -> ARPAbet class
SAMPA = {
    "@": "AX", "@U": "OW", "A": "AA", "A:": "AA", "D": "DH", "E": "EH", "EI": "EY", "eI": "EY", "e": "EH",
    "e@": "EH", "I": "IH", "I@": "IH", "N": "NG", "O": "AO", "O:": "AO", "OI": "OY", "Q": "AA", "S": "SH",
    "T": "TH", "U": "UH", "U@": "UH", "V": "AH", "Z": "ZH", "aU": "AW", "aI": "AY", "b": "B", "d": "D",
    "dZ": "JH", "tS": "CH", "f": "F", "g": "G", "h": "HH", "i": "IY", "i:": "IY", "j": "Y", "k": "K",
    "l": "L", "m": "M", "n": "N", "p": "P", "r": "R", "r=": "ER", "3": "ER", "3:": "ER", "s": "S",
    "t": "T", "t_h": "T", "u": "UW", "u:": "UW", "v": "V", "w": "W", "z": "Z", "{": "AE", "@2": "AX",
    "o@": "AO", "aI@": "AY", "aU@": "AW", "r-": "R", "4": "D", "?": "T", "l=": "L", "n=": "N", "m=": "M",
}


def phone_class(sym):
    if sym in SIL:
        return None
    if sym in SAMPA:
        return SAMPA[sym]
    u = sym.upper()
    if u in TABLE:
        return u
    return "AX"  # unknown: a neutral half-open vowel


def frame_tracks(phones, n_frames, rng_sil=None):
    """phones: [(sym, start, end)] in s. Returns opening [T], width [T], speech [T] (float32)."""
    segs = []
    for sym, s, e in phones:
        c = phone_class(sym)
        if segs and segs[-1][0] is None and c is None:
            segs[-1][2] = max(segs[-1][2], e)
            continue
        segs.append([c, s, e])
    # final-phone cap: a phone followed by silence (or the end) lasts at most FINAL_CAP
    for i, (c, s, e) in enumerate(segs):
        nxt = segs[i + 1][0] if i + 1 < len(segs) else None
        if c is not None and nxt is None and e - s > FINAL_CAP:
            segs[i][2] = s + FINAL_CAP
    t = (np.arange(n_frames) + 0.5) / FPS
    num_o = np.zeros(n_frames); num_w = np.zeros(n_frames); den = np.full(n_frames, 1e-6)
    speech = np.zeros(n_frames, np.float32)
    first_s = min([s for c, s, e in segs if c is not None], default=None)
    last_e = max([e for c, s, e in segs if c is not None], default=None)
    # silence everywhere outside the phones (including padding): closed, dominance 1
    covered = np.zeros(n_frames, bool)
    for c, s, e in segs:
        if c is None:
            continue
        o, w, a = TABLE[c]
        q = 0.25 * (e - s)
        dist = np.maximum(0.0, np.abs(t - 0.5 * (s + e)) - q)
        d = a * np.exp(-RATE * dist)
        num_o += d * o; num_w += d * w; den += d
        inside = (t >= s) & (t < e)
        speech[inside] = 1.0
        covered |= inside
    # silence: distance to the nearest phone edge; 'before speech' target just before each onset
    sil_o = np.zeros(n_frames)
    onsets = [s for i, (c, s, e) in enumerate(segs) if c is not None and (i == 0 or segs[i - 1][0] is None)]
    for s0 in onsets:
        m = (t < s0) & (t >= s0 - BEFORE_SPAN)
        sil_o[m] = BEFORE_SPEECH
    if first_s is None:
        dsil = np.full(n_frames, 1.0)
    else:
        dsil = np.zeros(n_frames)
        for c, s, e in segs:
            if c is not None:
                continue
            dist = np.where(t < s, s - t, np.where(t >= e, t - e, 0.0))
            dsil = np.maximum(dsil, np.exp(-RATE * dist))
        dsil = np.where(t < first_s, 1.0, dsil)
        dsil = np.where(t >= last_e, 1.0, dsil)
        dsil[~covered] = np.maximum(dsil[~covered], 1.0)
        dsil = 2.0 * dsil  # silence dominates
    num_o += dsil * sil_o; den += dsil
    return (num_o / den).astype(np.float32), (num_w / den).astype(np.float32), speech


PHONES = ["SIL"] + sorted(TABLE)  # classes of the auxiliary phoneme head (index 0: silence)
_PHONE_INDEX = {p: i for i, p in enumerate(PHONES)}


def frame_phones(phones, n_frames):
    """Phone class index per frame (the phone under the frame's centre; 0 = silence)."""
    t = (np.arange(n_frames) + 0.5) / FPS
    out = np.zeros(n_frames, np.int64)
    for sym, s, e in phones:
        c = phone_class(sym)
        if c is not None:
            out[(t >= s) & (t < e)] = _PHONE_INDEX[c]
    return out


# displacement basis (canonical units, +y down) for opening = 1 and width = 1
D_OPEN = np.zeros((68, 2), np.float32)
for i, v in {5: 0.03, 6: 0.05, 7: 0.075, 8: 0.10, 9: 0.075, 10: 0.05, 11: 0.03, 4: 0.01, 12: 0.01}.items():
    D_OPEN[i, 1] = v
for i, v in {56: 0.085, 57: 0.09, 58: 0.085, 55: 0.055, 59: 0.055, 65: 0.065, 66: 0.07, 67: 0.065,
             48: 0.03, 54: 0.03, 60: 0.035, 64: 0.035}.items():
    D_OPEN[i, 1] = v
for i, v in {49: -0.005, 50: -0.01, 51: -0.01, 52: -0.01, 53: -0.005, 61: -0.01, 62: -0.01, 63: -0.01}.items():
    D_OPEN[i, 1] = v
D_WIDE = np.zeros((68, 2), np.float32)
for i, v in {48: -0.02, 60: -0.018, 49: -0.01, 59: -0.01, 61: -0.006, 67: -0.006,
             54: 0.02, 64: 0.018, 53: 0.01, 55: 0.01, 63: 0.006, 65: 0.006}.items():
    D_WIDE[i, 0] = v


def landmarks(opening, width):
    """[T,68,2] canonical landmarks from opening [T] and width [T]."""
    return (MEAN_FACE[None] + opening[:, None, None] * D_OPEN[None] + width[:, None, None] * D_WIDE[None]).astype(np.float32)


def mouth_opening(lm):
    """Mean inner-lip gap (61-67, 62-66, 63-65) / mouth width (48-54), per frame. lm [...,68,2]."""
    gap = (np.abs(lm[..., 67, 1] - lm[..., 61, 1]) + np.abs(lm[..., 66, 1] - lm[..., 62, 1]) + np.abs(lm[..., 65, 1] - lm[..., 63, 1])) / 3
    w = np.linalg.norm(lm[..., 54, :] - lm[..., 48, :], axis=-1)
    return gap / w


# The teacher fitted against real GRID mouths (../talkingface_kit/teacher_fit.json, written by
# `python -m talkingface_kit.visemes`): NOTES.md openings and a least-squares mouth/jaw geometry.
# It is the default (A2L_TEACHER=fit); A2L_TEACHER=prior keeps the hand-made table and geometry above.
FIT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "talkingface_kit", "teacher_fit.json")
TEACHER = os.environ.get("A2L_TEACHER", "fit")
if TEACHER == "fit":
    import json as _json
    _fit = _json.load(open(FIT_FILE))
    for _c, _o in _fit["opening"].items():
        if _c in TABLE:
            TABLE[_c] = (float(_o), TABLE[_c][1], TABLE[_c][2])
    BEFORE_SPEECH = float(_fit["before_speech"])
    D_OPEN = np.asarray(_fit["d_open"], np.float32)
    D_WIDE = np.asarray(_fit["d_wide"], np.float32)
