#!/usr/bin/env python3
"""Convert MediaPipe's face detector and face landmark models (Apache-2.0) to ONNX.

    python training/convert_mediapipe.py            # writes models/face_detector.onnx, models/face_landmarks.onnx
    python training/convert_mediapipe.py --check    # also compares both ONNX files against the tflite reference

Idempotent: the wheel is downloaded once into ~/.cache/talkingface/mediapipe, the outputs are rewritten
byte for byte the same. The conversion runs in its own venv (~/.cache/talkingface/convert-venv); when
run with a Python that lacks the packages, the script creates that venv and re-runs itself there:

    python3 -m venv ~/.cache/talkingface/convert-venv
    ~/.cache/talkingface/convert-venv/bin/pip install numpy==2.4.6 onnx==1.23.2 onnxruntime==1.31.1 \
        tflite==2.18.0 ai-edge-litert==2.3.0 pillow==13.0.0 imageio-ffmpeg==0.8.1

Source: PyPI mediapipe==0.10.14 (the cp311 manylinux wheel), files
mediapipe/modules/face_detection/face_detection_short_range.tflite (BlazeFace short range, 128x128) and
mediapipe/modules/face_landmark/face_landmark.tflite (468-point face mesh, 192x192). Their sha256 are
checked below and written into the ONNX metadata.

The converter is a small one of our own over the `tflite` package's flatbuffer parser: the two graphs use
only CONV_2D, DEPTHWISE_CONV_2D, DEQUANTIZE (fp16 weights, folded to fp32 constants), RELU, PRELU, ADD,
PAD, MAX_POOL_2D, RESHAPE and CONCATENATION. Activations are kept NCHW in ONNX (the tflite graph is NHWC);
a Transpose back to NHWC is put only before a RESHAPE of a 4-D tensor. tflite SAME padding becomes
explicit ONNX pads (extra pixel at the end, as TensorFlow does).

Added in the graphs (see docs/facelandmarks-models.md for the exact contract):
- detector: input RGB [0,1] -> [-1,1]; SSD anchor decoding (MediaPipe short-range anchors as a constant);
  outputs scores [1,896], boxes [1,896,4] (cx,cy,w,h), keypoints [1,896,6,2], all normalised to the
  128x128 input.
- landmarks: input RGB [0,1] (what the tflite wants, verified); outputs landmarks [1,468,3] (x,y in [0,1]
  of the crop, z/192), score [1] (sigmoid of the face-presence logit), ibug68 [1,68,2] (fixed linear
  map of the mesh, table IBUG68 below).
"""
import argparse
import hashlib
import os
import pathlib
import subprocess
import sys
import zipfile

REPO = pathlib.Path(__file__).resolve().parents[1]
CACHE = pathlib.Path(os.environ.get("TALKINGFACE_CACHE", pathlib.Path.home() / ".cache" / "talkingface"))
VENV = CACHE / "convert-venv"
WHEEL_DIR = CACHE / "mediapipe"
WHEEL = "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
WHEEL_SHA256 = "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4"
DETECTOR_TFLITE = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
DETECTOR_SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
LANDMARK_TFLITE = "mediapipe/modules/face_landmark/face_landmark.tflite"
LANDMARK_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
PIP_PKGS = ["numpy==2.4.6", "onnx==1.23.2", "onnxruntime==1.31.1", "tflite==2.18.0", "ai-edge-litert==2.3.0",
            "pillow==13.0.0", "imageio-ffmpeg==0.8.1"]
OPSET = 17
GRACE = pathlib.Path("/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg")
GRID = pathlib.Path(os.environ.get("TALKINGFACE_GRID", REPO.parent / "shared" / "data" / "grid"))

# ---------------------------------------------------------------------------------------------------
# The 68 iBUG-300W points (dlib order) from the 468 mesh vertices. Subject's right = image left:
# dlib 0, 17, 36 and 48 are on the image left. Each entry is a list of (vertex, weight); the weights of
# a point sum to 1. Left and right use mirror-image vertices throughout.
#
# Jaw: points along the face-oval chain from 127 (beside the right eye, near the ear) through the chin
# 152 (dlib 8) to 356, at fixed fractional positions along the chain (by vertex index; a fractional
# position blends the two neighbouring vertices linearly). The positions were fitted to dlib on the
# five GRID clips (eighth steps, symmetrised, stable to +-0.25 when fitted leaving any one clip out):
# the mesh's oval vertices are denser near the chin than dlib's jaw points.
# Other points are single vertices. First version (the starting table) -> this one, mean error
# over dlib's eye-corner distance on the GRID clips: jaw 0.150 -> 0.049 (even spacing along
# 234..152..454 started and ended too low), nose 0.042 -> 0.022 (bridge 6, 197 -> 197, 195; nostril
# edges 98, 327 -> 75, 305), brows 0.055 -> 0.050 (inner ends 107, 336 -> 55, 285), outer lips 0.029
# -> 0.026 (49, 53, 55, 59: one vertex nearer the middle), inner lips 0.037 -> 0.021 (61, 63, 65, 67:
# 81, 311, 402, 178 -> 82, 312, 317, 87). The eye corners stay 33 and 263 (dlib's 36 and 45 sit
# nearer 7 and 249, 0.02 eye distances, but those move with the lower lid). docs/facelandmarks-models.md.
JAW_RIGHT = [127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152]   # dlib 0..8 (image left -> chin)
JAW_LEFT = [152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356]  # dlib 8..16 (chin -> image right)
JAW_POS = [0.25, 1.375, 2.5, 3.625, 4.75, 6.125, 7.75, 9.5, 11.0]       # dlib 0..8 along JAW_RIGHT
NAMED = {
    17: 70, 18: 63, 19: 105, 20: 66, 21: 55,             # right brow (image left), outer -> inner
    22: 285, 23: 296, 24: 334, 25: 293, 26: 300,         # left brow, inner -> outer
    27: 168, 28: 197, 29: 195, 30: 4,                    # nose bridge, 30 = tip
    31: 75, 32: 97, 33: 2, 34: 326, 35: 305,             # nostrils, 33 = below the tip
    36: 33, 37: 160, 38: 158, 39: 133, 40: 153, 41: 144,  # right eye: outer corner, upper, inner, lower
    42: 362, 43: 385, 44: 387, 45: 263, 46: 373, 47: 380,  # left eye: inner corner, upper, outer, lower
    48: 61, 49: 39, 50: 37, 51: 0, 52: 267, 53: 269, 54: 291, 55: 405, 56: 314, 57: 17, 58: 84, 59: 181,
    60: 78, 61: 82, 62: 13, 63: 312, 64: 308, 65: 317, 66: 14, 67: 87,
}


def chain_point(chain, t):
    """(vertex, weight) pairs of the point at fractional index t along chain."""
    i = int(t)
    f = t - i
    if f < 1e-9 or i + 1 >= len(chain):
        return [(chain[i], 1.0)]
    return [(chain[i], 1.0 - f), (chain[i + 1], f)]


def ibug68_table():
    table = [chain_point(JAW_RIGHT, t) for t in JAW_POS]                          # dlib 0..8
    end = len(JAW_LEFT) - 1
    table += [chain_point(JAW_LEFT, end - t) for t in reversed(JAW_POS[:-1])]    # dlib 9..16, mirrored
    for k in range(17, 68):
        table.append([(NAMED[k], 1.0)])
    assert len(table) == 68 and all(abs(sum(a for _, a in p) - 1) < 1e-9 for p in table)
    return table


def ibug68_matrix():
    import numpy as np
    w = np.zeros((68, 468), np.float32)
    for k, pairs in enumerate(ibug68_table()):
        for v, a in pairs:
            w[k, v] += a
    return w


# ---------------------------------------------------------------------------------------------------
# Environment and source files.

def ensure_env():
    try:
        import numpy, onnx, tflite  # noqa: F401,E401
        return
    except ImportError:
        pass
    py = VENV / "bin" / "python"
    if pathlib.Path(sys.prefix).resolve() == VENV.resolve():
        sys.exit("convert venv is incomplete: " + " ".join(PIP_PKGS))
    if not py.exists():
        print(f"creating {VENV}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    subprocess.check_call([str(py), "-m", "pip", "install", "-q"] + PIP_PKGS)
    os.execv(str(py), [str(py), __file__] + sys.argv[1:])


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch():
    """The two .tflite files (bytes), from the wheel, checked against their sha256."""
    WHEEL_DIR.mkdir(parents=True, exist_ok=True)
    whl = WHEEL_DIR / WHEEL
    if not whl.exists():
        subprocess.check_call([sys.executable, "-m", "pip", "download", "mediapipe==0.10.14", "--no-deps",
                               "--only-binary=:all:", "--python-version", "3.11",
                               "--platform", "manylinux_2_17_x86_64", "-d", str(WHEEL_DIR)])
    got = sha256(whl.read_bytes())
    if got != WHEEL_SHA256:
        sys.exit(f"{whl}: sha256 {got}, expected {WHEEL_SHA256}")
    out = {}
    with zipfile.ZipFile(whl) as z:
        for path, want in [(DETECTOR_TFLITE, DETECTOR_SHA256), (LANDMARK_TFLITE, LANDMARK_SHA256)]:
            data = z.read(path)
            if sha256(data) != want:
                sys.exit(f"{path}: sha256 {sha256(data)}, expected {want}")
            (WHEEL_DIR / pathlib.Path(path).name).write_bytes(data)
            out[path] = data
    return out


# ---------------------------------------------------------------------------------------------------
# tflite -> ONNX.

class Converter:
    """Translates one tflite subgraph into ONNX nodes; 4-D activations are kept NCHW."""

    def __init__(self, buf, prefix):
        import tflite
        self.tfl = tflite
        self.model = tflite.Model.GetRootAsModel(buf, 0)
        self.g = self.model.Subgraphs(0)
        self.prefix = prefix
        self.nodes, self.inits = [], []
        self.consts = {}      # tflite tensor index -> numpy array (fp32 after folding DEQUANTIZE)
        self.names = {}       # tflite tensor index -> ONNX name of the value
        self.layout = {}      # ONNX name -> "nchw" or "plain"
        self.opnames = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}
        self.n = 0

    def uniq(self, s):
        self.n += 1
        return f"{self.prefix}{s}_{self.n}"

    def tensor(self, i):
        return self.g.Tensors(i)

    def shape(self, i):
        return [int(d) for d in self.tensor(i).ShapeAsNumpy()]

    def buffer(self, i):
        import numpy as np
        t = self.tensor(i)
        data = self.model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data.size == 0:
            return None
        dt = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}[t.Type()]
        return np.frombuffer(data.tobytes(), dt).reshape(self.shape(i))

    def const(self, arr, name):
        from onnx import numpy_helper
        name = self.uniq(name)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def node(self, op, ins, name, **attrs):
        from onnx import helper
        out = self.uniq(name)
        self.nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def output(self, op, ins, out, **attrs):
        """A node writing a graph output (fixed name)."""
        from onnx import helper
        self.nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def activation(self, x, fused):
        if fused == 0:
            return x
        if fused == 1:
            return self.node("Relu", [x], "relu")
        if fused == 3:
            return self.node("Clip", [x, self.const(_f32(0), "zero"), self.const(_f32(6), "six")], "relu6")
        raise NotImplementedError(f"fused activation {fused}")

    def val(self, i):
        if i in self.names:
            return self.names[i]
        raise KeyError(f"tensor {i} {self.tensor(i).Name()} has no value")

    @staticmethod
    def same_pads(in_hw, k_hw, s_hw, out_hw):
        pads_b, pads_e = [], []
        for n, k, s, o in zip(in_hw, k_hw, s_hw, out_hw):
            total = max((o - 1) * s + k - n, 0)
            pads_b.append(total // 2)
            pads_e.append(total - total // 2)
        return pads_b + pads_e

    def run(self, input_name):
        import numpy as np
        tfl, g = self.tfl, self.g
        assert g.InputsLength() == 1
        self.names[g.Inputs(0)] = input_name
        self.layout[input_name] = "nchw"
        for k in range(g.OperatorsLength()):
            op = g.Operators(k)
            oc = self.model.OperatorCodes(op.OpcodeIndex())
            name = self.opnames[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]
            ins = [int(j) for j in op.InputsAsNumpy()]
            out = int(op.OutputsAsNumpy()[0])
            bo = op.BuiltinOptions()
            if name == "DEQUANTIZE":
                self.consts[out] = self.buffer(ins[0]).astype(np.float32)
                continue
            w = lambda j: self.consts[ins[j]] if ins[j] in self.consts else self.buffer(ins[j])  # noqa: E731
            if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                if name == "CONV_2D":
                    o = tfl.Conv2DOptions()
                    o.Init(bo.Bytes, bo.Pos)
                    wt = w(1).transpose(0, 3, 1, 2)                       # OHWI -> OIHW
                    group = 1
                else:
                    o = tfl.DepthwiseConv2DOptions()
                    o.Init(bo.Bytes, bo.Pos)
                    wt = w(1).transpose(3, 0, 1, 2)                       # 1HWC -> C1HW
                    group = self.shape(ins[0])[3]
                    assert wt.shape[0] == group, "depth multiplier != 1"
                assert o.DilationHFactor() == 1 and o.DilationWFactor() == 1
                stride = [o.StrideH(), o.StrideW()]
                kh, kw = wt.shape[2:]
                if o.Padding() == tfl.Padding.SAME:
                    pads = self.same_pads(self.shape(ins[0])[1:3], [kh, kw], stride, self.shape(out)[1:3])
                else:
                    pads = [0, 0, 0, 0]
                bias = w(2).astype(np.float32) if len(ins) > 2 and ins[2] >= 0 else np.zeros(wt.shape[0], np.float32)
                y = self.node("Conv", [self.val(ins[0]), self.const(np.ascontiguousarray(wt, np.float32), "w"),
                                       self.const(bias, "b")], "conv",
                              kernel_shape=[int(kh), int(kw)], strides=stride, pads=pads, group=group)
                y = self.activation(y, o.FusedActivationFunction())
            elif name == "RELU":
                y = self.node("Relu", [self.val(ins[0])], "relu")
            elif name == "PRELU":
                alpha = w(1).reshape(-1).astype(np.float32)
                assert self.layout[self.val(ins[0])] == "nchw" and alpha.size == self.shape(ins[0])[3]
                y = self.node("PRelu", [self.val(ins[0]), self.const(alpha.reshape(-1, 1, 1), "alpha")], "prelu")
            elif name == "ADD":
                o = tfl.AddOptions()
                o.Init(bo.Bytes, bo.Pos)
                a, b = self.val(ins[0]), self.val(ins[1])
                assert self.shape(ins[0]) == self.shape(ins[1])
                y = self.activation(self.node("Add", [a, b], "add"), o.FusedActivationFunction())
            elif name == "PAD":
                p = w(1).astype(np.int64)                                  # [[b,a] for N,H,W,C]
                order = [0, 3, 1, 2]
                pads = [int(p[d, 0]) for d in order] + [int(p[d, 1]) for d in order]
                y = self.node("Pad", [self.val(ins[0]), self.const(np.array(pads, np.int64), "pads")], "pad",
                              mode="constant")
            elif name == "MAX_POOL_2D":
                o = tfl.Pool2DOptions()
                o.Init(bo.Bytes, bo.Pos)
                k_hw, stride = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
                if o.Padding() == tfl.Padding.SAME:
                    pads = self.same_pads(self.shape(ins[0])[1:3], k_hw, stride, self.shape(out)[1:3])
                else:
                    pads = [0, 0, 0, 0]
                y = self.node("MaxPool", [self.val(ins[0])], "maxpool", kernel_shape=k_hw, strides=stride, pads=pads)
                y = self.activation(y, o.FusedActivationFunction())
            elif name == "RESHAPE":
                x = self.val(ins[0])
                if self.layout[x] == "nchw":
                    x = self.node("Transpose", [x], "to_nhwc", perm=[0, 2, 3, 1])
                y = self.node("Reshape", [x, self.const(np.array(self.shape(out), np.int64), "shape")], "reshape")
                self.layout[y] = "plain"
            elif name == "CONCATENATION":
                o = tfl.ConcatenationOptions()
                o.Init(bo.Bytes, bo.Pos)
                xs = [self.val(j) for j in ins]
                assert all(self.layout[x] == "plain" for x in xs)
                y = self.node("Concat", xs, "concat", axis=o.Axis())
                y = self.activation(y, o.FusedActivationFunction())
                self.layout[y] = "plain"
            else:
                raise NotImplementedError(name)
            self.names[out] = y
            self.layout.setdefault(y, "nchw")
            assert self.layout[y] == "plain" or len(self.shape(out)) == 4
        return {self.tensor(g.Outputs(i)).Name().decode(): self.names[g.Outputs(i)] for i in range(g.OutputsLength())}


def _f32(v):
    import numpy as np
    return np.array(v, np.float32)


# ---------------------------------------------------------------------------------------------------
# MediaPipe's SSD anchors for face_detection_short_range (SsdAnchorsCalculator options: 4 layers,
# strides 8,16,16,16, input 128x128, anchor offset 0.5, aspect ratio 1, interpolated scale aspect ratio
# 1, fixed anchor size). Layers with equal strides are merged: 2 anchors per cell on the 16x16 grid,
# 6 per cell on the 8x8 grid; order row, column, anchor. With fixed anchor size w = h = 1.

def anchors():
    import numpy as np
    out = []
    strides = [8, 16, 16, 16]
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 2           # aspect ratio 1.0 plus the interpolated-scale anchor
            last += 1
        n = -(-128 // strides[layer])
        for y in range(n):
            for x in range(n):
                for _ in range(per_cell):
                    out.append(((x + 0.5) / n, (y + 0.5) / n))
        layer = last
    a = np.array(out, np.float32)
    assert a.shape == (896, 2)
    return a


def metadata(model, props):
    import onnx
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=str(v)))


def finish(nodes, inits, inputs, outputs, name, props):
    import onnx
    from onnx import helper
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="talkingface convert_mediapipe.py", producer_version="1")
    model.ir_version = 8
    metadata(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def source(path, sha):
    return f"PyPI mediapipe==0.10.14 ({WHEEL}, sha256 {WHEEL_SHA256}): {path} (sha256 {sha})"


def build_detector(buf):
    import numpy as np
    from onnx import TensorProto, helper
    c = Converter(buf, "det/")
    x = c.node("Sub", [c.node("Mul", ["image", c.const(_f32(2.0), "two")], "scale"), c.const(_f32(1.0), "one")],
               "to_pm1")                                                   # [0,1] -> [-1,1]
    outs = c.run(x)
    reg, cls = outs["regressors"], outs["classificators"]                 # [1,896,16], [1,896,1]
    logit = c.node("Reshape", [cls, c.const(np.array([1, 896], np.int64), "shape")], "logit")
    clipped = c.node("Clip", [logit, c.const(_f32(-100.0), "lo"), c.const(_f32(100.0), "hi")], "clip")
    c.output("Sigmoid", [clipped], "scores")
    a = anchors()
    raw = c.node("Div", [reg, c.const(_f32(128.0), "box_scale")], "raw_norm")
    box = c.node("Slice", [raw, c.const(np.array([0], np.int64), "s"), c.const(np.array([4], np.int64), "e"),
                           c.const(np.array([2], np.int64), "ax")], "box_raw")
    box_off = np.concatenate([a, np.zeros_like(a)], 1)[None]             # (ax, ay, 0, 0): w = h = raw/128 * 1
    c.output("Add", [box, c.const(box_off.astype(np.float32), "anchor_box")], "boxes")
    kp = c.node("Slice", [raw, c.const(np.array([4], np.int64), "s"), c.const(np.array([16], np.int64), "e"),
                          c.const(np.array([2], np.int64), "ax")], "kp_raw")
    kp = c.node("Reshape", [kp, c.const(np.array([1, 896, 6, 2], np.int64), "shape")], "kp4")
    c.output("Add", [kp, c.const(a[None, :, None, :].copy(), "anchor_kp")], "keypoints")
    props = {
        "talkingface.kind": "face_detector",
        "talkingface.version": 1,
        "talkingface.description": "MediaPipe BlazeFace short-range face detector converted to ONNX, SSD anchor "
                                   "decoding included. Input image [1,3,128,128] RGB in [0,1] (letterboxed); "
                                   "outputs scores [1,896] (sigmoid), boxes [1,896,4] (cx,cy,w,h) and keypoints "
                                   "[1,896,6,2] (x,y: right eye, left eye, nose tip, mouth centre, right ear "
                                   "tragion, left ear tragion; subject's right = image left), normalised to the "
                                   "128x128 input. See docs/facelandmarks-models.md.",
        "talkingface.license": "Apache-2.0",
        "talkingface.source": source(DETECTOR_TFLITE, DETECTOR_SHA256),
        "talkingface.size": 128,
    }
    f = TensorProto.FLOAT
    return finish(c.nodes, c.inits, [helper.make_tensor_value_info("image", f, [1, 3, 128, 128])],
                  [helper.make_tensor_value_info("scores", f, [1, 896]),
                   helper.make_tensor_value_info("boxes", f, [1, 896, 4]),
                   helper.make_tensor_value_info("keypoints", f, [1, 896, 6, 2])], "face_detector", props)


def build_landmarks(buf):
    import numpy as np
    from onnx import TensorProto, helper
    c = Converter(buf, "lm/")
    outs = c.run("image")                                                  # the tflite wants RGB in [0,1]
    mesh, flag = outs["conv2d_21"], outs["conv2d_31"]                     # [1,1404,1,1], [1,1,1,1] (NCHW)
    pts = c.node("Reshape", [mesh, c.const(np.array([1, 468, 3], np.int64), "shape")], "mesh")
    c.output("Div", [pts, c.const(_f32(192.0), "size")], "landmarks")
    xy = c.node("Slice", ["landmarks", c.const(np.array([0], np.int64), "s"), c.const(np.array([2], np.int64), "e"),
                          c.const(np.array([2], np.int64), "ax")], "xy")
    c.output("MatMul", [c.const(ibug68_matrix(), "ibug68_map"), xy], "ibug68")
    logit = c.node("Reshape", [flag, c.const(np.array([1], np.int64), "shape")], "presence_logit")
    c.output("Sigmoid", [logit], "score")
    props = {
        "talkingface.kind": "face_landmarks",
        "talkingface.version": 1,
        "talkingface.description": "MediaPipe face mesh (468 points) converted to ONNX. Input image "
                                   "[1,3,192,192] RGB in [0,1], a rotated square crop of side 1.5 x face size; "
                                   "outputs landmarks [1,468,3] (x,y normalised to the crop, z/192), score [1] "
                                   "(face presence, sigmoid) and ibug68 [1,68,2] (the 68 iBUG-300W points in "
                                   "dlib order, a fixed linear map of the mesh, normalised to the crop). See "
                                   "docs/facelandmarks-models.md.",
        "talkingface.license": "Apache-2.0",
        "talkingface.source": source(LANDMARK_TFLITE, LANDMARK_SHA256),
        "talkingface.size": 192,
        "talkingface.roi_scale": 1.5,
    }
    f = TensorProto.FLOAT
    return finish(c.nodes, c.inits, [helper.make_tensor_value_info("image", f, [1, 3, 192, 192])],
                  [helper.make_tensor_value_info("landmarks", f, [1, 468, 3]),
                   helper.make_tensor_value_info("score", f, [1]),
                   helper.make_tensor_value_info("ibug68", f, [1, 68, 2])], "face_landmarks", props)


# ---------------------------------------------------------------------------------------------------
# Check against the tflite reference interpreter.

def load_images():
    """Real test images as RGB uint8: grace_hopper.jpg and 4 frames from each GRID clip."""
    import numpy as np
    from PIL import Image
    imgs = []
    if GRACE.exists():
        imgs.append(("grace_hopper", np.asarray(Image.open(GRACE).convert("RGB"))))
    import imageio_ffmpeg
    for clip in sorted(GRID.glob("*.mpg")):
        gen = imageio_ffmpeg.read_frames(str(clip))
        meta = next(gen)
        w, h = meta["size"]
        for i, fr in enumerate(gen):
            if i % 25 == 0:
                imgs.append((f"{clip.stem}#{i}", np.frombuffer(fr, np.uint8).reshape(h, w, 3).copy()))
            if i >= 75:
                break
        gen.close()
    return imgs


def letterbox(img, size):
    """Scale keeping aspect ratio, centre, pad with black; PIL bilinear resample."""
    import numpy as np
    from PIL import Image
    h, w = img.shape[:2]
    s = size / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    out = np.zeros((size, size, 3), np.uint8)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR))
    return out, s, x0, y0


def square_crop(img, cx, cy, side, size):
    """Axis-aligned square crop (PIL affine, bilinear, black outside) resized to size x size."""
    import numpy as np
    from PIL import Image
    k = side / size
    x0, y0 = cx - side / 2, cy - side / 2
    return np.asarray(Image.fromarray(img).transform((size, size), Image.AFFINE, (k, 0, x0, 0, k, y0),
                                                     resample=Image.BILINEAR))


def check(det_path, lm_path, tflites):
    import numpy as np
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    def interp(data):
        it = Interpreter(model_content=data)
        it.allocate_tensors()
        return it

    def run_tfl(it, x):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    det = ort.InferenceSession(str(det_path), so, providers=["CPUExecutionProvider"])
    lm = ort.InferenceSession(str(lm_path), so, providers=["CPUExecutionProvider"])
    tdet, tlm = interp(tflites[DETECTOR_TFLITE]), interp(tflites[LANDMARK_TFLITE])
    a = anchors()
    W = ibug68_matrix()
    err = {"det_scores": 0.0, "det_boxes": 0.0, "det_keypoints": 0.0, "lm_landmarks": 0.0, "lm_score": 0.0,
           "lm_ibug68": 0.0}
    n_faces = 0
    for name, img in load_images():
        box, s, x0, y0 = letterbox(img, 128)
        x = box.astype(np.float32)[None] / 255.0                           # NHWC [0,1]
        t = run_tfl(tdet, x * 2 - 1)
        reg, logit = t["regressors"][0], t["classificators"][0, :, 0]
        ref_scores = (1 / (1 + np.exp(-np.clip(logit.astype(np.float64), -100, 100)))).astype(np.float32)
        ref_boxes = reg[:, :4] / 128 + np.concatenate([a, np.zeros_like(a)], 1)
        ref_kp = reg[:, 4:].reshape(896, 6, 2) / 128 + a[:, None]
        o_scores, o_boxes, o_kp = det.run(None, {"image": x.transpose(0, 3, 1, 2).copy()})
        err["det_scores"] = max(err["det_scores"], float(np.abs(o_scores[0] - ref_scores).max()))
        err["det_boxes"] = max(err["det_boxes"], float(np.abs(o_boxes[0] - ref_boxes).max()))
        err["det_keypoints"] = max(err["det_keypoints"], float(np.abs(o_kp[0] - ref_kp).max()))
        best = int(np.argmax(o_scores[0]))
        if o_scores[0, best] < 0.5:
            print(f"  {name}: no face (best score {o_scores[0, best]:.3f})")
            continue
        n_faces += 1
        cx, cy, bw, bh = o_boxes[0, best] * 128
        cx, cy, side = (cx - x0) / s, (cy - y0) / s, max(bw, bh) / s * 1.5
        kp = (o_kp[0, best] * 128 - [x0, y0]) / s
        crop = square_crop(img, cx, cy, side, 192).astype(np.float32)[None] / 255.0
        t = run_tfl(tlm, crop)
        ref_lm = t["conv2d_21"].reshape(468, 3) / 192
        ref_score = 1 / (1 + np.exp(-t["conv2d_31"].reshape(1)))
        o_lm, o_score, o_68 = lm.run(None, {"image": crop.transpose(0, 3, 1, 2).copy()})
        err["lm_landmarks"] = max(err["lm_landmarks"], float(np.abs(o_lm[0] - ref_lm).max()))
        err["lm_score"] = max(err["lm_score"], float(np.abs(o_score - ref_score).max()))
        err["lm_ibug68"] = max(err["lm_ibug68"], float(np.abs(o_68[0] - W @ ref_lm[:, :2]).max()))
        print(f"  {name}: detection {o_scores[0, best]:.3f}, keypoints (px) "
              + " ".join(f"({p[0]:.0f},{p[1]:.0f})" for p in kp) + f", landmark score {o_score[0]:.3f}")
    print(f"{n_faces} faces; max |ONNX - tflite| (normalised units):")
    for k, v in err.items():
        print(f"  {k}: {v:.2e}")
    worst = max(err.values())
    if n_faces == 0 or worst > 1e-3:
        sys.exit(f"check failed (worst {worst:.2e}, {n_faces} faces)")
    print(f"check passed: worst {worst:.2e} <= 1e-3")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare the ONNX files with the tflite reference")
    ap.add_argument("--out", default=str(REPO / "models"), help="output folder (default: models/)")
    args = ap.parse_args()
    ensure_env()
    import onnx
    tflites = fetch()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    det_path, lm_path = out / "face_detector.onnx", out / "face_landmarks.onnx"
    for path, model in [(det_path, build_detector(tflites[DETECTOR_TFLITE])),
                        (lm_path, build_landmarks(tflites[LANDMARK_TFLITE]))]:
        data = model.SerializeToString()
        onnx.load_from_string(data)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
            print(f"wrote {path} ({len(data)} bytes, sha256 {sha256(data)})")
        else:
            print(f"{path} unchanged (sha256 {sha256(data)})")
    if args.check:
        check(det_path, lm_path, tflites)


if __name__ == "__main__":
    main()
