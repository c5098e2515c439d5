"""Writes tests/data/features_reference.json: a deterministic signal and its features computed by
the kit's numpy front end, for the Rust front end's test (tests/features.rs)."""
import json
import pathlib

import numpy as np

from talkingface_kit.features import features

META = {"sample_rate": 16000, "hop_length": 640, "win_length": 1024, "n_fft": 1024, "n_mels": 40,
        "fmin": 60.0, "fmax": 7600.0, "features": "logmel,delta,delta2"}


def signal():
    sr = META["sample_rate"]
    t = np.arange(int(0.53 * sr)) / sr
    rng = np.random.default_rng(1234)
    chirp = 0.4 * np.sin(2 * np.pi * (200 * t + 900 * t * t))
    env = np.clip(np.sin(np.pi * t / t[-1]) * 1.5, 0, 1)
    x = chirp * env + 0.05 * rng.standard_normal(t.size)
    x[: sr // 10] = 0.0  # leading silence
    return x.astype(np.float32)


def main():
    x = signal()
    f = features(x, META)
    out = {"meta": META, "signal": [float(v) for v in x], "features": [[float(v) for v in row] for row in f]}
    path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "features_reference.json"
    path.write_text(json.dumps(out))
    print(f"wrote {path}: {f.shape[0]} frames x {f.shape[1]} features")


if __name__ == "__main__":
    main()
