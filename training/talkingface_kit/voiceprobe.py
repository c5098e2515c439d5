"""Does a model lean on the training speaker's voice? Lip sync on s1's held-out sentences and the
other speakers with the voice shifted by vocal tract length perturbation (pitch and formants, timing
kept), against the same speech unshifted. A model that learned s1's voice as a shortcut loses more on
s1 when the voice moves away from s1's.

python -m talkingface_kit.voiceprobe MODEL.onnx ...   (run from training/, PYTHONPATH=.)
"""
from __future__ import annotations

import pathlib
import pickle
import sys

import numpy as np

from . import canon, realdata
from .evaluate import Model
from .realeval import sets

KIT = pathlib.Path(__file__).resolve().parents[1]
WARPS = (0.85, 0.92, 1.0, 1.08, 1.18)


def main(argv):
    sys.path.insert(0, str(KIT / "a2l"))
    import torch
    import common as C
    items = pickle.load(open(realdata.CACHE / "corpus.pkl", "rb"))
    print("| model | set | " + " | ".join(f"r, warp {w:g}" for w in WARPS) + " |")
    print("|---|---|" + "---|" * len(WARPS))
    for path in argv:
        m = Model(path)
        for name, its in sets(items):
            row = []
            for w in WARPS:
                rs = []
                for it in its:
                    n = len(it["canon"])
                    x = torch.tensor(it["audio"].astype(np.float64)[None] / 32767)
                    f = C.torch_features(x, n + m.d, warp=torch.tensor([w]))[0].numpy()
                    lm, _, _ = m.run(f, m.zero_state())
                    rs.append(canon.pearson(canon.mouth_opening(lm[m.d:]), canon.mouth_opening(it["canon"])))
                row.append(np.mean(rs))
            print(f"| {pathlib.Path(path).stem} | {name.split(',')[0]} | " + " | ".join(f"{r:.3f}" for r in row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
