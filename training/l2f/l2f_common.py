"""Shared pieces of the learned mouth stage (training/l2f): the crop frame, bilinear crops, the
shipped warp generator run with onnxruntime (its unpainted warp exposed), paths.

The crop is the shipped model's: `talkingface.crop = eyes:0.3,0.333333,0.7,0.333333` (the outer eye
corners, points 36 and 45, at those fractions of the crop), the same similarity the element
computes (src/landmarks2face/identity.rs): image point p (pixel centres at x + 0.5) -> crop unit
coordinates. Training crops are S = 128: GRID's faces are small (eye-corner distance about 40 px in
360x288), so the 0.4-wide eye span of a 128 crop (51 px) already upsamples the source; 256 would
only interpolate more. The mouth stage itself runs on a fixed M x M box (M = 64) cut from the crop
around the target's mouth, so it is independent of the crop size (the exported model cuts the box
from the 256 crop with GridSample).
"""
import os
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
KIT = ROOT / "training"
sys.path.insert(0, str(KIT))

CACHE = pathlib.Path(os.environ.get("TALKINGFACE_CACHE", pathlib.Path.home() / ".cache" / "talkingface"))
L2F = CACHE / "l2f"
EYE_R, EYE_L = (0.3, 1.0 / 3.0), (0.7, 1.0 / 3.0)   # where points 36 and 45 go (crop fractions)
S_TRAIN = 128
M = 64            # mouth box side, pixels (network resolution)
BOX_SCALE = 1.9   # box side = BOX_SCALE * mouth width (48-54), clamped below (see box())
MOUTH = list(range(48, 68))


def to_crop(p36, p45):
    """Similarity (a, b, tx, ty): x' = a x - b y + tx, y' = b x + a y + ty, image -> crop units."""
    za, zb = complex(*p36), complex(*p45)
    wa, wb = complex(*EYE_R), complex(*EYE_L)
    s = (wb - wa) / (zb - za)
    t = wa - s * za
    return s, t


def apply(sim, pts):
    s, t = sim
    z = pts[..., 0] + 1j * pts[..., 1]
    w = s * z + t
    return np.stack([w.real, w.imag], -1)


def crop_image(img, sim, size):
    """Bilinear crop [size, size, 3] uint8 of img [H, W, 3] in the crop frame (border replicated)."""
    s, t = sim
    inv_s, inv_t = 1 / s, -t / s
    c = (np.arange(size) + 0.5) / size
    gy, gx = np.meshgrid(c, c, indexing="ij")
    z = inv_s * (gx + 1j * gy) + inv_t          # image coordinates, pixel centres at +0.5
    x, y = z.real - 0.5, z.imag - 0.5
    h, w = img.shape[:2]
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.floor(x).astype(np.int64).clip(0, w - 2)
    y0 = np.floor(y).astype(np.int64).clip(0, h - 2)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    f = img.astype(np.float32)
    out = (f[y0, x0] * (1 - fx) * (1 - fy) + f[y0, x0 + 1] * fx * (1 - fy)
           + f[y0 + 1, x0] * (1 - fx) * fy + f[y0 + 1, x0 + 1] * fx * fy)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def opening(lm):
    """Inner-lip gap (62-66, 61-67, 63-65) over mouth width, [..., 68, 2]."""
    gap = (np.linalg.norm(lm[..., [61, 62, 63], :] - lm[..., [67, 66, 65], :], axis=-1)).mean(-1)
    return gap / np.maximum(np.linalg.norm(lm[..., 54, :] - lm[..., 48, :], axis=-1), 1e-6)


def warp_session(size, with_painted=False):
    """onnxruntime session of the shipped warp generator (make_warp_generator.build) at `size`, with
    its unpainted warp (the GridSample output) as an extra output 'warped'."""
    import onnx
    import onnxruntime as ort
    sys.path.insert(0, str(KIT))
    import make_warp_generator as mwg
    model = mwg.build(size, 64)
    gs = [n for n in model.graph.node if n.op_type == "GridSample" and n.input[0] == "reference"]
    assert len(gs) == 1
    model.graph.output.append(onnx.helper.make_tensor_value_info(gs[0].output[0], onnx.TensorProto.FLOAT,
                                                                 ["N", 3, size, size]))
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), o, providers=["CPUExecutionProvider"])
    return sess, gs[0].output[0]


def run_warp(sess, out_name, ref, ref_lm, tgt_lm):
    """ref [N,3,S,S] f32 in [0,1]; landmarks [N,68,2] crop units -> (warped, frame, mask)."""
    f, m, w = sess.run(["frame", "mask", out_name], {"reference": ref.astype(np.float32),
                                                     "reference_landmarks": ref_lm.astype(np.float32),
                                                     "target_landmarks": tgt_lm.astype(np.float32)})
    return w, f, m
