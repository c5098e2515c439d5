"""training/l2f/person.py's colour match (match_colour, colour_gain, ring_mask): the training
targets of person mode taken to their reference's light, measured around the mouth box, so that
the mouth stage never learns a colour move of its box (the tinted square over differently lit
sessions, docs/landmarks2face.md). Synthetic images on the mean face; no GRID data, no models.

Run: training/.venv/bin/python -m pytest training/tests/test_person_colour.py
"""
import pathlib
import sys

import numpy as np

KIT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))
sys.path.insert(0, str(KIT / "l2f"))
import person as P  # noqa: E402

S = 128
MEAN = np.loadtxt(KIT.parent / "models" / "mean_face.txt").reshape(68, 2)


def scene(seed=0):
    """A smooth 'face' [S, S, 3] uint8 in 60..180 and the mean face's landmarks."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:S, 0:S] / S
    img = np.stack([120 + 40 * np.sin(3 * x + c) * np.cos(2 * y - c) for c in (0.0, 1.0, 2.0)], -1)
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), MEAN.astype(np.float32)


def mouth_box(lm):
    c = lm[48:68].mean(0)
    side = max(np.linalg.norm(lm[54] - lm[48]) * 1.9, abs(lm[57, 1] - lm[51, 1]) * 2.2)
    return np.clip(np.round((np.r_[c - side / 2, c + side / 2]) * S), 0, S).astype(int)


def test_ring_outside_the_box_inside_the_face():
    _, lm = scene()
    m = P.ring_mask(lm, S)
    x0, y0, x1, y1 = mouth_box(lm)
    assert m.sum() > 300
    assert not m[y0 + 1:y1 - 1, x0 + 1:x1 - 1].any()          # never inside the mouth box
    assert not m[:, :int(lm[0:17, 0].min() * S) - 1].any()    # never left of the jaw
    assert not m[int(lm[8, 1] * S) + 2:].any()                # never below the chin


def test_gain_undoes_a_change_of_light():
    warp, lm = scene()
    light = np.array([1.25, 0.95, 0.7])                      # another session's light on the target
    tgt = np.clip(warp * light, 0, 255).astype(np.uint8)
    x0, y0, x1, y1 = mouth_box(lm)
    tgt[y0:y1, x0:x1] = 30                                    # an open mouth: the box's content differs
    g = P.colour_gain(tgt[None], warp[None], lm[None])[0]
    assert np.allclose(g, 1 / light, rtol=0.02), g
    out, g2 = P.match_colour(tgt[None], warp[None], lm[None])
    assert np.allclose(g2[0], g)
    ring = P.ring_mask(lm, S)
    assert np.abs(out[0][ring].mean(0) - warp[ring].astype(float).mean(0)).max() < 1.5
    assert (out[0][y0 + 2:y1 - 2, x0 + 2:x1 - 2] <= 45).all()  # the interior is scaled, not replaced


def test_same_light_left_alone():
    warp, lm = scene(1)
    out, g = P.match_colour(warp[None], warp[None], lm[None])
    assert np.allclose(g, 1.0)
    assert np.abs(out.astype(int) - warp[None]).max() <= 1


def test_gain_bounded_and_empty_ring():
    warp, lm = scene(2)
    dark = np.zeros_like(warp) + 5
    assert np.allclose(P.colour_gain(dark[None], warp[None], lm[None]), 2.0)   # clipped at x2
    far = lm + 5.0                                                               # the face off the crop
    assert np.allclose(P.colour_gain(warp[None], dark[None], far[None]), 1.0)
