"""talkingface_kit.face with models/face_detector.onnx and models/face_landmarks.onnx
(docs/facelandmarks-models.md). Skips when the models or the test portrait are missing.

Run: training/.venv/bin/python -m pytest training/tests/test_face.py
"""
import math
import pathlib
import sys

import numpy as np
import pytest

KIT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))
from talkingface_kit import face  # noqa: E402

MODELS = KIT.parent / "models"
GRACE = pathlib.Path("/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg")

needs_models = pytest.mark.skipif(
    not (MODELS / "face_detector.onnx").exists() or not (MODELS / "face_landmarks.onnx").exists(),
    reason="models/face_detector.onnx or face_landmarks.onnx missing (python training/convert_mediapipe.py)")


@pytest.fixture(scope="module")
def fa():
    return face.FaceAnalyzer(MODELS)


@pytest.fixture(scope="module")
def grace():
    if not GRACE.exists():
        pytest.skip(f"{GRACE} missing (Debian python-matplotlib-data)")
    from PIL import Image
    return np.asarray(Image.open(GRACE).convert("RGB"))


def turn(points, k, h, w):
    """Image points after np.rot90(img, k) (continuous coordinates)."""
    p = np.asarray(points, np.float64).copy()
    for _ in range(k):
        p = np.stack([p[:, 1], w - p[:, 0]], 1)
        h, w = w, h
    return p


def test_roi_round_trip():
    roi = face.Roi(100.0, 50.0, 80.0, 0.3)
    p = np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 0.25], [0.1, 0.9]])
    assert np.allclose(roi.from_image(roi.to_image(p)), p)
    assert np.allclose(roi.to_image([0.5, 0.5]), [100.0, 50.0])
    # +u runs along the angle: (cos, sin) in image coordinates (y down)
    assert np.allclose(roi.to_image([1.0, 0.5]) - [100.0, 50.0], [40 * math.cos(0.3), 40 * math.sin(0.3)])


def test_sampling_identity_and_letterbox():
    img = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    out = face.sample_roi(img, face.Roi(2.0, 2.0, 4.0, 0.0), 4, "zero")
    assert np.allclose(out[0].transpose(1, 2, 0) * 255, img, atol=1e-3)
    wide = np.full((2, 4, 3), 255, np.uint8)
    lb = face.sample_roi(wide, face.Roi.whole(4, 2), 4, "zero")[0, 0]
    assert np.allclose(lb[[0, 3]], 0) and np.allclose(lb[[1, 2]], 1)


@needs_models
def test_grace_hopper(fa, grace):
    faces = fa.detect(grace)
    assert len(faces) == 1 and faces[0].score > 0.9 and faces[0].rotation == 0
    f = faces[0]
    # subject's right eye on the image's left
    assert f.keypoints[0, 0] < f.keypoints[1, 0]
    pts468, pts68, score = fa.landmarks(grace, f.roi())
    assert score > 0.9 and pts468.shape == (468, 3) and pts68.shape == (68, 2)
    x0, y0, x1, y1 = f.box
    assert (pts68[:, 0] > x0).all() and (pts68[:, 0] < x1).all()
    assert (pts68[:, 1] > y0).all() and (pts68[:, 1] < y1).all()
    assert pts68[36, 0] < pts68[45, 0] and pts68[48, 0] < pts68[54, 0]    # dlib order, image left first
    assert pts68[8, 1] > pts68[57, 1] > pts68[33, 1] > pts68[27, 1]        # chin below mouth below nose
    still = fa.landmarks68(grace)
    assert np.linalg.norm(still - pts68, axis=1).mean() < 0.05 * np.linalg.norm(pts68[36] - pts68[45])


@needs_models
@pytest.mark.parametrize("k", [1, 2, 3])
def test_turned_picture(fa, grace, k):
    h, w = grace.shape[:2]
    upright = fa.landmarks68(grace)
    turned = np.ascontiguousarray(np.rot90(grace, k))
    faces = fa.detect(turned)
    assert faces and faces[0].score > 0.9 and faces[0].rotation != 0
    got = fa.landmarks68(turned)
    assert got is not None
    iod = np.linalg.norm(upright[36] - upright[45])
    assert np.linalg.norm(got - turn(upright, k, h, w), axis=1).mean() < 0.05 * iod


@needs_models
def test_grey_has_no_face(fa):
    grey = np.full((480, 640, 3), 128, np.uint8)
    assert fa.detect(grey) == []
    assert fa.landmarks68(grey) is None
    assert face.VideoTracker(fa).process(grey) is None


@needs_models
def test_tracker_follows(fa, grace):
    tr = face.VideoTracker(fa)
    a = tr.process(grace)
    assert a is not None and tr.roi is not None
    shifted = np.zeros_like(grace)
    shifted[:, 8:] = grace[:, :-8]
    b = tr.process(shifted)
    assert b is not None
    assert abs(np.median(b[:, 0] - a[:, 0]) - 8) < 2 and abs(np.median(b[:, 1] - a[:, 1])) < 2
