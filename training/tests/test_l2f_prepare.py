"""training/l2f/prepare.py skips bad clips with a reason instead of crashing: a file that does not
decode, no face at all, too many bad frames, coinciding eye corners; and it picks the most closed
good frame as the reference. The crop puts the eye corners where talkingface.crop says.

Run: training/.venv/bin/python -m pytest training/tests/test_l2f_prepare.py
"""
import pathlib
import sys

import numpy as np
import pytest

L2F = pathlib.Path(__file__).resolve().parents[1] / "l2f"
sys.path.insert(0, str(L2F))
import l2f_common as C  # noqa: E402
import prepare  # noqa: E402


def face(n=75, open_at=None):
    base = np.loadtxt(C.ROOT / "models" / "mean_face.txt")
    raw = np.repeat((base * 150 + 100)[None], n, 0)
    if open_at is not None:
        raw[:, [65, 66, 67], 1] += 6.0            # every frame a little open ...
        raw[open_at, [65, 66, 67], 1] -= 6.0      # ... but this one closed
    return raw


def test_corrupt_file(tmp_path):
    p = tmp_path / "x.mpg"
    p.write_bytes(b"not a video at all" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        prepare.decode(p)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="corrupt"):
        prepare.decode(tmp_path / "missing.mpg")


def test_no_face_and_bad_frames():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="no face"):
        prepare.choose(face(), np.ones(75, bool), 5, rng)
    bad = np.zeros(75, bool)
    bad[:10] = True
    with pytest.raises(ValueError, match="bad frames"):
        prepare.choose(face(), bad, 5, rng)


def test_reference_is_most_closed():
    bad = np.zeros(75, bool)
    bad[3] = True
    ref, tg = prepare.choose(face(open_at=40), bad, 10, np.random.default_rng(1))
    assert ref == 40
    assert 40 not in tg and 3 not in tg and len(tg) == 10


def test_eye_corners_coincide():
    raw = face()
    raw[:, 45] = raw[:, 36]
    frames = np.zeros((75, 288, 360, 3), np.uint8)
    with pytest.raises(ValueError, match="eye corners"):
        prepare.cut_clip(frames, raw, np.zeros(75, bool), 4, 32, np.random.default_rng(0), None)


def test_crop_puts_eyes_in_place():
    raw = face()[0]
    sim = C.to_crop(raw[36], raw[45])
    lm = C.apply(sim, raw)
    assert np.allclose(lm[36], C.EYE_R, atol=1e-9) and np.allclose(lm[45], C.EYE_L, atol=1e-9)
    img = np.zeros((288, 360, 3), np.uint8)
    x, y = np.round(raw[30] - 0.5).astype(int)    # a white dot at the nose tip's pixel
    img[y - 1:y + 2, x - 1:x + 2] = 255
    c = C.crop_image(img, sim, 128)
    yy, xx = np.unravel_index(np.argmax(c[..., 0]), c.shape[:2])
    assert abs((xx + 0.5) / 128 - lm[30, 0]) < 0.03 and abs((yy + 0.5) / 128 - lm[30, 1]) < 0.03
