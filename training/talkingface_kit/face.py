"""Face detection and landmarks on ONNX Runtime with models/face_detector.onnx and
models/face_landmarks.onnx (MediaPipe, Apache-2.0; made by training/convert_mediapipe.py).

The pre- and post-processing is the contract of docs/facelandmarks-models.md, which the Rust plugin
(src/face/) follows too: continuous image coordinates (pixel i covers [i, i+1)), rotated square ROIs,
bilinear sampling at pixel centres, weighted NMS, ROI = 1.5 x the face, eyes level.

    from talkingface_kit.face import FaceAnalyzer, VideoTracker
    fa = FaceAnalyzer()
    faces = fa.detect(rgb)                      # list[Face], largest first
    pts468, pts68, score = fa.landmarks(rgb, faces[0].roi())
    pts68 = fa.landmarks68(rgb)                 # still picture: (68, 2) or None
    tr = VideoTracker(fa); [tr.process(frame) for frame in frames]
"""
import dataclasses
import math
import pathlib

import numpy as np
import onnxruntime as ort

MODELS = pathlib.Path(__file__).resolve().parents[2] / "models"
MIN_SCORE = 0.5        # detector threshold (MediaPipe's)
NMS_IOU = 0.3          # detections overlapping a surer one by more than this are merged into it
MIN_PRESENCE = 0.5     # landmarker score below which there is no face
ROI_SCALE = 1.5        # ROI side over the face's extent (MediaPipe's rect transformation)
EYE_CORNERS = (33, 263)  # mesh vertices: right and left eye outer corners


@dataclasses.dataclass
class Roi:
    """A rotated square of the image: centre and side in pixels, angle (radians, image y down) of
    its x axis."""
    cx: float
    cy: float
    size: float
    angle: float = 0.0

    @staticmethod
    def whole(width, height, quarter_turns=0):
        """The whole image letterboxed into a square, turned by quarter_turns quarters."""
        return Roi(width / 2.0, height / 2.0, float(max(width, height)), (quarter_turns % 4) * math.pi / 2)

    def to_image(self, uv):
        """Points (..., 2) of the ROI's unit square -> image pixels."""
        uv = np.asarray(uv, np.float64)
        c, s = math.cos(self.angle), math.sin(self.angle)
        x, y = (uv[..., 0] - 0.5) * self.size, (uv[..., 1] - 0.5) * self.size
        return np.stack([self.cx + x * c - y * s, self.cy + x * s + y * c], -1)

    def from_image(self, xy):
        xy = np.asarray(xy, np.float64)
        c, s = math.cos(self.angle), math.sin(self.angle)
        x, y = xy[..., 0] - self.cx, xy[..., 1] - self.cy
        return np.stack([(x * c + y * s) / self.size + 0.5, (-x * s + y * c) / self.size + 0.5], -1)

    @staticmethod
    def around(points, angle):
        """The square 1.5 times the extent of points (N, 2) along the axes of angle, or None."""
        p = np.asarray(points, np.float64)
        c, s = math.cos(angle), math.sin(angle)
        u, v = p[:, 0] * c + p[:, 1] * s, -p[:, 0] * s + p[:, 1] * c
        side = max(u.max() - u.min(), v.max() - v.min()) * ROI_SCALE
        mu, mv = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
        roi = Roi(mu * c - mv * s, mu * s + mv * c, side, angle)
        ok = all(math.isfinite(t) for t in (roi.cx, roi.cy, side)) and side > 1.0
        return roi if ok else None


def eye_angle(right, left):
    """Angle (radians, image y down) of the line from the right eye to the left eye."""
    return math.atan2(left[1] - right[1], left[0] - right[0])


def sample_roi(rgb, roi, size, border):
    """CHW float32 [1,3,size,size] in [0,1]: roi of rgb (H,W,3 or 4 uint8) sampled bilinearly at the
    pixel centres; border "zero" (black outside) or "replicate" (nearest edge pixel)."""
    h, w = rgb.shape[:2]
    flat = rgb.reshape(h * w, rgb.shape[2])
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    c, s = np.float32(math.cos(roi.angle)), np.float32(math.sin(roi.angle))
    x = (t[None, :] - 0.5) * np.float32(roi.size)            # along u (columns)
    y = (t[:, None] - 0.5) * np.float32(roi.size)            # along v (rows)
    xf = np.float32(roi.cx) + x * c - y * s - 0.5            # pixel centres at +0.5
    yf = np.float32(roi.cy) + x * s + y * c - 0.5
    x0, y0 = np.floor(xf), np.floor(yf)
    fx, fy = xf - x0, yf - y0
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    acc = np.zeros((size, size, 3), np.float32)
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        if border == "zero":
            wgt = wgt * ((xi >= 0) & (yi >= 0) & (xi < w) & (yi < h))
        val = flat[np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1), :3]
        acc += wgt[..., None] * val
    return (acc * np.float32(1 / 255.0)).transpose(2, 0, 1)[None].copy()


@dataclasses.dataclass
class Face:
    """A detection in image pixels."""
    score: float
    cx: float
    cy: float
    width: float            # along the axes of the detector's (turned) view
    height: float
    keypoints: np.ndarray   # (6, 2): right eye, left eye, nose tip, mouth, right ear, left ear
    rotation: int = 0       # degrees (0, 90, 180, 270) the picture was turned for the detector

    @property
    def box(self):
        """(x0, y0, x1, y1) in pixels (axis-aligned; the turns are multiples of 90 degrees)."""
        w, h = (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)
        return (self.cx - w / 2, self.cy - h / 2, self.cx + w / 2, self.cy + h / 2)

    def roi(self):
        """The landmarker's ROI: centred on the box, 1.5 x its longer side, eyes level."""
        return Roi(self.cx, self.cy, max(self.width, self.height) * ROI_SCALE,
                   eye_angle(self.keypoints[0], self.keypoints[1]))


def _iou(a, b):
    w = max(0.0, min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2))
    h = max(0.0, min(a[1] + a[3] / 2, b[1] + b[3] / 2) - max(a[1] - a[3] / 2, b[1] - b[3] / 2))
    i = w * h
    u = a[2] * a[3] + b[2] * b[3] - i
    return i / u if u > 0 else 0.0


def weighted_nms(scores, boxes, kps):
    """[(score, box (4,), keypoints (6,2))] merged as MediaPipe's weighted NMS (docs/facelandmarks-models.md)."""
    order = list(np.argsort(-scores, kind="stable"))
    out = []
    while order:
        top = order[0]
        group = [i for i in order if _iou(boxes[top], boxes[i]) > NMS_IOU]
        if top not in group:      # degenerate box: keep it alone
            group = [top] + group
        order = [i for i in order if i not in group]
        wgt = scores[group].astype(np.float64)
        wgt = wgt / wgt.sum()
        out.append((float(scores[top]), (wgt[:, None] * boxes[group]).sum(0),
                    (wgt[:, None, None] * kps[group]).sum(0)))
    return out


class FaceAnalyzer:
    """The detector and the landmarker on ONNX Runtime (CPU unless providers says otherwise)."""

    def __init__(self, model_dir=MODELS, providers=("CPUExecutionProvider",), threads=1):
        model_dir = pathlib.Path(model_dir)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.det = ort.InferenceSession(str(model_dir / "face_detector.onnx"), so, providers=list(providers))
        self.lm = ort.InferenceSession(str(model_dir / "face_landmarks.onnx"), so, providers=list(providers))
        dm = self.det.get_modelmeta().custom_metadata_map
        lm = self.lm.get_modelmeta().custom_metadata_map
        if dm.get("talkingface.kind") != "face_detector" or lm.get("talkingface.kind") != "face_landmarks":
            raise ValueError(f"{model_dir}: not a face_detector / face_landmarks pair")
        self.det_size = int(dm["talkingface.size"])
        self.lm_size = int(lm["talkingface.size"])

    def detect_turned(self, rgb, quarter_turns=0):
        """Faces seen with the picture turned by quarter_turns quarters, image pixels, largest first."""
        h, w = rgb.shape[:2]
        roi = Roi.whole(w, h, quarter_turns)
        scores, boxes, kps = self.det.run(None, {"image": sample_roi(rgb, roi, self.det_size, "zero")})
        scores, boxes, kps = scores[0], boxes[0], kps[0]
        keep = np.nonzero((scores >= MIN_SCORE) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0))[0]
        faces = []
        for score, b, k in weighted_nms(scores[keep], boxes[keep], kps[keep]):
            c = roi.to_image(b[:2])
            faces.append(Face(score, float(c[0]), float(c[1]), float(b[2] * roi.size), float(b[3] * roi.size),
                              roi.to_image(k), 90 * (quarter_turns % 4)))
        faces.sort(key=lambda f: -f.width)
        return faces

    def detect(self, rgb, rotations=True):
        """Faces in image pixels, largest first. With rotations, the picture is also seen turned by a
        quarter either way and upside down, and the faces of the turn whose surest face scores highest
        are returned (ties: the earlier of 0, 90, 270, 180 degrees). Upright only is not enough: the
        detector fires at 0.6-0.85 on faces lying on their side or upside down, with keypoints that
        give the landmarker a wrong crop."""
        best = []
        for q in ((0, 1, 3, 2) if rotations else (0,)):
            faces = self.detect_turned(rgb, q)
            if faces and (not best or max(f.score for f in faces) > max(f.score for f in best)):
                best = faces
        return best

    def landmarks(self, rgb, roi):
        """(pts468 (468,3) image px (z in px), pts68 (68,2) image px, score) of the face in roi."""
        lm, score, p68 = self.lm.run(None, {"image": sample_roi(rgb, roi, self.lm_size, "replicate")})
        pts = np.empty((lm.shape[1], 3))
        pts[:, :2] = roi.to_image(lm[0, :, :2])
        pts[:, 2] = lm[0, :, 2] * roi.size
        return pts, roi.to_image(p68[0]), float(score[0])

    @staticmethod
    def roi_from_landmarks(pts468):
        """The ROI around the mesh, turned so that the outer eye corners are level."""
        r, l = pts468[EYE_CORNERS[0]], pts468[EYE_CORNERS[1]]
        return Roi.around(pts468[:, :2], eye_angle(r, l))

    def landmarks68(self, rgb, refine=True):
        """The 68 points (68, 2) of the largest face of a still picture, or None."""
        faces = self.detect(rgb)
        if not faces:
            return None
        pts, p68, score = self.landmarks(rgb, faces[0].roi())
        if score < MIN_PRESENCE:
            return None
        if refine:
            roi = self.roi_from_landmarks(pts)
            if roi is not None:
                _, p68b, score_b = self.landmarks(rgb, roi)
                if score_b >= min(score, MIN_PRESENCE):
                    p68 = p68b
        return p68


# The landmarker's points depend a little on its ROI and the ROI on the points: taken afresh every
# frame, the ROI of a still face wobbles between two states. The ROI only follows the face once it
# has moved by more than ROI_MOVE of its side, resized by ROI_RESIZE (log ratio) or turned by
# ROI_TURN radians (the same rule as src/face/tracker.rs).
ROI_MOVE, ROI_RESIZE, ROI_TURN = 0.02, 0.04, 0.052


def steady(prev, nxt):
    """nxt where the face has moved enough from prev, else prev."""
    if nxt is None:
        return None
    moved = math.hypot(nxt.cx - prev.cx, nxt.cy - prev.cy) > ROI_MOVE * prev.size
    resized = abs(math.log(nxt.size / prev.size)) > ROI_RESIZE
    d = nxt.angle - prev.angle
    turned = abs(math.atan2(math.sin(d), math.cos(d))) > ROI_TURN
    return nxt if (moved or resized or turned) else prev


class VideoTracker:
    """Per-frame 68 points, as the facelandmarks element finds them: detect when not tracking (a
    second landmark pass on the ROI of the first), else follow the previous frame's landmarks with
    a steady ROI; re-detect in the same frame when the landmarker loses the face."""

    def __init__(self, analyzer=None):
        self.fa = analyzer or FaceAnalyzer()
        self.roi = None
        self.score = 0.0
        self.pts468 = None

    def reset(self):
        self.roi = None

    def _detect(self, rgb):
        faces = self.fa.detect(rgb)
        return faces[0].roi() if faces else None

    def _fit_new(self, rgb, roi):
        """Landmarks on a detection's ROI, refined by a pass on the ROI of the first pass."""
        pts, p68, score = self.fa.landmarks(rgb, roi)
        if score >= MIN_PRESENCE:
            r2 = self.fa.roi_from_landmarks(pts)
            if r2 is not None:
                pts2, p682, score2 = self.fa.landmarks(rgb, r2)
                if score2 >= MIN_PRESENCE:
                    return pts2, p682, score2, r2
        return pts, p68, score, roi

    def process(self, rgb):
        detected = False
        if self.roi is None:
            roi = self._detect(rgb)
            detected = True
            if roi is None:
                return None
            pts, p68, score, self.roi = self._fit_new(rgb, roi)
        else:
            pts, p68, score = self.fa.landmarks(rgb, self.roi)
        if score < MIN_PRESENCE and not detected:
            roi = self._detect(rgb)
            if roi is not None:
                pts, p68, score, self.roi = self._fit_new(rgb, roi)
            else:
                self.roi = None
        if self.roi is None or score < MIN_PRESENCE:
            self.roi, self.score, self.pts468 = None, score if self.roi is not None else 0.0, None
            return None
        self.score, self.pts468 = score, pts
        self.roi = steady(self.roi, self.fa.roi_from_landmarks(pts))
        return p68
