"""The canonical face frame of DESIGN.md and the measures on it (Eskimez-style normalisation).

Canonical frame: x right, y down, unit square; outer eye corners (iBUG points 36 and 45) of the mean
neutral face at (0.3, 1/3) and (0.7, 1/3).
"""
from __future__ import annotations

import pathlib

import numpy as np

EYE_L, EYE_R = 36, 45
PIN_L = np.array([0.3, 1.0 / 3.0])
PIN_R = np.array([0.7, 1.0 / 3.0])
MOUTH = np.arange(48, 68)
INNER_UPPER = [61, 62, 63]
INNER_LOWER = [67, 66, 65]

# iBUG-68 left-right mirror permutation (point i of the mirrored face is point MIRROR[i] flipped).
MIRROR = np.array(
    list(range(16, -1, -1))                      # jaw 0..16
    + list(range(26, 16, -1))                    # brows 17..26
    + [27, 28, 29, 30]                           # nose bridge
    + [35, 34, 33, 32, 31]                       # nostrils 31..35
    + [45, 44, 43, 42, 47, 46]                   # left eye 36..41 <- right eye
    + [39, 38, 37, 36, 41, 40]                   # right eye 42..47 <- left eye
    + [54, 53, 52, 51, 50, 49, 48]               # outer upper lip 48..54
    + [59, 58, 57, 56, 55]                       # outer lower lip 55..59
    + [64, 63, 62, 61, 60]                       # inner upper lip 60..64
    + [67, 66, 65]                               # inner lower lip 65..67
)

MODELS_DIR = pathlib.Path(__file__).resolve().parents[2] / "models"


def pin_eyes(pts: np.ndarray) -> np.ndarray:
    """Similarity transform of [..., 68, 2] points that puts 36 and 45 at the canonical pins."""
    pts = np.asarray(pts, dtype=np.float64)
    a = pts[..., EYE_L, :]
    b = pts[..., EYE_R, :]
    # complex-number similarity: z -> s * (z - a) + PIN_L with s = (PIN_R - PIN_L) / (b - a)
    za = a[..., 0] + 1j * a[..., 1]
    zb = b[..., 0] + 1j * b[..., 1]
    s = ((PIN_R[0] - PIN_L[0]) + 1j * (PIN_R[1] - PIN_L[1])) / (zb - za)
    z = pts[..., 0] + 1j * pts[..., 1]
    w = s[..., None] * (z - za[..., None]) + (PIN_L[0] + 1j * PIN_L[1])
    return np.stack([w.real, w.imag], axis=-1)


def mirror(pts: np.ndarray) -> np.ndarray:
    """Left-right mirror image in the canonical frame (x -> 1 - x)."""
    m = np.asarray(pts)[..., MIRROR, :].copy()
    m[..., 0] = 1.0 - m[..., 0]
    return m


def mouth_opening(pts: np.ndarray) -> np.ndarray:
    """Inner-lip gap over mouth width (outer corners 48-54), per frame. pts [..., 68, 2]."""
    pts = np.asarray(pts)
    gap = np.linalg.norm(pts[..., INNER_UPPER, :] - pts[..., INNER_LOWER, :], axis=-1).mean(-1)
    width = np.linalg.norm(pts[..., 54, :] - pts[..., 48, :], axis=-1)
    return gap / width


def mouth_lmd(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean Euclidean distance over the 20 mouth points and all frames (canonical units)."""
    return float(np.linalg.norm(pred[..., MOUTH, :] - true[..., MOUTH, :], axis=-1).mean())


def pearson(a, b) -> float:
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


def load_mean_face(path=None) -> np.ndarray:
    path = pathlib.Path(path) if path else MODELS_DIR / "mean_face.txt"
    return np.loadtxt(path, dtype=np.float64).reshape(68, 2)
