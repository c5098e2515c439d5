"""The audio feature front end of the model contract (docs/model-contract.md), in numpy.

It must match src/features.rs exactly; tests/data/features_reference.json holds shared values.
"""
from __future__ import annotations

import numpy as np

LOG_FLOOR = 1e-6
PARTS = ("logmel", "delta", "delta2")


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular HTK-mel filters, no area normalisation."""
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1, dtype=np.float64) * sample_rate / n_fft
    fb = np.zeros((n_mels, freqs.size), dtype=np.float64)
    for j in range(n_mels):
        lo, c, hi = edges[j], edges[j + 1], edges[j + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[j] = np.maximum(0.0, np.minimum(up, down))
    return fb


def frame_start(n, hop: int, win: int):
    return n * hop + (hop - win) // 2


def logmel(x: np.ndarray, sample_rate: int, hop_length: int, win_length: int, n_fft: int,
           n_mels: int, fmin: float, fmax: float, n_frames: int | None = None) -> np.ndarray:
    """[n_frames, n_mels] log-mel; n_frames defaults to ceil(len(x) / hop_length)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if n_frames is None:
        n_frames = -(-x.size // hop_length)
    off = (hop_length - win_length) // 2
    pad_left = max(0, -off)
    total = pad_left + max(x.size, (n_frames - 1) * hop_length + off + win_length) + 1
    buf = np.zeros(total, dtype=np.float64)
    buf[pad_left:pad_left + x.size] = x
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    out = np.empty((n_frames, n_mels), dtype=np.float64)
    for i in range(n_frames):
        s = i * hop_length + off + pad_left
        frame = np.zeros(n_fft, dtype=np.float64)
        frame[:win_length] = buf[s:s + win_length] * window
        p = np.abs(np.fft.rfft(frame)) ** 2
        out[i] = np.log(fb @ p + LOG_FLOOR)
    return out


def stack_features(lm: np.ndarray, parts) -> np.ndarray:
    """Stacks logmel / causal delta / delta2 as the contract says. lm: [T, M]."""
    silence = np.full((1, lm.shape[1]), np.log(LOG_FLOOR))
    delta = np.diff(np.concatenate([silence, lm], axis=0), axis=0)
    delta2 = np.diff(np.concatenate([np.zeros_like(silence), delta], axis=0), axis=0)
    table = {"logmel": lm, "delta": delta, "delta2": delta2}
    return np.concatenate([table[p] for p in parts], axis=1)


def features(x: np.ndarray, meta: dict, n_frames: int | None = None) -> np.ndarray:
    """Features [T, F] (float32) of a mono signal for a model's metadata (keys without prefix)."""
    parts = [p.strip() for p in str(meta["features"]).split(",") if p.strip()]
    for p in parts:
        if p not in PARTS:
            raise ValueError(f"unknown feature part {p!r}")
    lm = logmel(x, int(meta["sample_rate"]), int(meta["hop_length"]), int(meta["win_length"]),
                int(meta["n_fft"]), int(meta["n_mels"]), float(meta["fmin"]), float(meta["fmax"]),
                n_frames=n_frames)
    return stack_features(lm, parts).astype(np.float32)
