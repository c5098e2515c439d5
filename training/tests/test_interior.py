"""The real mouth interior of the warp generator (training/l2f/exemplars.py's bank baked in by
training/make_warp_generator.py --bank): the ONNX graph puts each bank texel where exemplars.py
took it from, blends the opening levels, opens past the widest level without stretching, and
matches the portrait's colour. Synthetic banks and references only (no GRID cache needed).

Run: training/.venv/bin/python -m pytest training/tests/test_interior.py
"""
import pathlib
import sys

import numpy as np
import onnxruntime as ort
import pytest

KIT = pathlib.Path(__file__).resolve().parents[1]
ROOT = KIT.parent
sys.path.insert(0, str(KIT))
sys.path.insert(0, str(KIT / "l2f"))
import make_warp_generator as mwg  # noqa: E402
import exemplars as ex  # noqa: E402

S = 256
SKIN = np.array([0.6, 0.5, 0.4], np.float32)
MEAN = np.loadtxt(ROOT / "models" / "mean_face.txt").astype(np.float32)


def ramp_bank(levels=ex.LEVELS, split=0.3):
    """A bank whose texel (u, v) of every level has colour (u, v, level index / 10)."""
    h, w = ex.H_TEX, ex.W_TEX
    v, u = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    tex = np.stack([np.stack([u, v, np.full_like(u, k / 10)]) for k in range(len(levels))]).astype(np.float32)
    return {"tex": tex, "levels": np.asarray(levels, np.float32), "skin": SKIN.copy(),
            "split": np.float32(split), "dark": np.zeros(3, np.float32)}


def session(bank):
    m = mwg.build(S, 32, mwg.BOX, mwg.LIP_IN, bank)
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), o, providers=["CPUExecutionProvider"])


def opened(d):
    t = MEAN.copy()
    t[[56, 57, 58, 65, 66, 67], 1] += d
    t[[55, 59], 1] += 0.7 * d
    return t


def run(sess, target, ref_rgb=SKIN):
    ref = np.broadcast_to(ref_rgb.reshape(1, 3, 1, 1), (1, 3, S, S)).astype(np.float32).copy()
    f, = sess.run(["frame"], {"reference": ref, "reference_landmarks": MEAN[None], "target_landmarks": target[None]})
    return f[0]


def core(target):
    """Crop pixels well inside the target's inner-lip polygon: (ys, xs, u, v) by exemplars' map."""
    from scipy.ndimage import binary_erosion
    poly = target[60:68].astype(np.float64)
    ins = np.array([[mwg._inside(poly, ((x + 0.5) / S, (y + 0.5) / S)) for x in range(S)] for y in range(S)])
    ys, xs = np.nonzero(binary_erosion(ins, iterations=2))     # at least 2 px inside
    x, y = (xs + 0.5) / S, (ys + 0.5) / S
    u = (x - target[60, 0]) / (target[64, 0] - target[60, 0])
    up, lo = ex.lip_line(target, ex.UPPER, x), ex.lip_line(target, ex.LOWER, x)
    return ys, xs, u, (y - up) / (lo - up)


@pytest.fixture(scope="module")
def ramp():
    return session(ramp_bank())


def test_texels_land_where_exemplars_took_them(ramp):
    t = opened(0.035)
    f = run(ramp, t)
    ys, xs, u, v = core(t)
    assert len(ys) > 30
    ok = (u > 0.05) & (u < 0.95) & (v > 0.08) & (v < 0.92)   # away from the texture's border rows
    assert np.abs(f[0, ys, xs][ok] - u[ok]).max() < 0.04
    assert np.abs(f[1, ys, xs][ok] - v[ok]).max() < 0.06


def test_levels_blend_by_opening(ramp):
    for d in (0.03, 0.04, 0.05):
        t = opened(d)
        o = float(ex.opening(t))
        k = np.clip((o - ex.LEVELS[0]) / (ex.LEVELS[1] - ex.LEVELS[0]), 0, len(ex.LEVELS) - 1)
        ys, xs, _, _ = core(t)
        assert abs(float(np.median(run(ramp, t)[2, ys, xs])) - k / 10) < 0.01, (d, o, k)


def test_wider_than_the_widest_level_keeps_rows_and_darkens_the_middle():
    bank = ramp_bank()
    sess = session(bank)
    t = opened(0.15)
    o = float(ex.opening(t))
    assert o > 1.5 * ex.LEVELS[-1]
    f = run(sess, t)
    ys, xs, u, v = core(t)
    kk = o / ex.LEVELS[-1]
    top = v * kk < 0.25                 # upper rows: texture v = v * kk (not stretched)
    assert top.sum() > 5 and np.abs(f[1, ys, xs][top] - (v * kk)[top]).max() < 0.06
    mid = np.minimum(v * kk - 0.3, (1 - v) * kk - 0.7) > mwg.CAVITY_RAMP  # the filled middle: the bank's dark
    assert mid.sum() > 5 and f[:, ys, xs][:, mid].max() < 0.02


def test_colour_follows_the_portrait():
    bank = ramp_bank()
    bank["tex"][:] = np.array([0.8, 0.7, 0.5], np.float32).reshape(1, 3, 1, 1)   # warm teeth
    sess = session(bank)
    t = opened(0.035)
    ys, xs, _, _ = core(t)
    same = run(sess, t)[:, ys, xs].mean(1)
    assert np.allclose(same, [0.8, 0.7, 0.5], atol=0.01)      # the bank's own skin: unchanged
    grey = run(sess, t, np.full(3, 0.5, np.float32))[:, ys, xs].mean(1)
    assert np.ptp(grey) < 0.01                                # a grey portrait: a grey interior
    dark = run(sess, t, SKIN * 0.25)[:, ys, xs].mean(1)
    # Brightness follows the skin partly: a quarter of the skin's brightness gives half (power 0.5,
    # bounded below at 0.6).
    assert np.allclose(dark, same * mwg.BRIGHT_CLIP[0], atol=0.01)
