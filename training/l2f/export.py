"""Exports models/landmarks2face_mouth.onnx: the shipped warp graph (make_warp_generator.build,
S = 256) followed by the learned mouth stage (model.py, weights from train.py's checkpoint), one
file, the model contract unchanged (inputs reference, reference_landmarks, target_landmarks;
outputs frame, mask; talkingface.* metadata), standard opset-17 operators.

The warp's unpainted GridSample output feeds the mouth stage (the painted interior is dropped); the
mask is max(the warp's mask, the pasted box's mask).

    python3 training/l2f/export.py [--ckpt ~/.cache/talkingface/l2f/run/ckpt.pt] [--out models/landmarks2face_mouth.onnx]
"""
import argparse
import io
import json
import pathlib

import numpy as np
import onnx
import torch
from onnx import helper

import l2f_common as C
import make_warp_generator as mwg
import model as Mo

SIZE = 256


class Head(torch.nn.Module):
    """(warped, reference, reference_landmarks, target_landmarks, warp_mask) -> (frame, mask)."""

    def __init__(self, stage):
        super().__init__()
        self.stage = stage

    def forward(self, warped, reference, reference_landmarks, target_landmarks, warp_mask):
        frame, mk = self.stage(warped, reference, reference_landmarks, target_landmarks)
        return frame, torch.maximum(warp_mask, mk)


def prune(graph, outputs):
    """Keeps the nodes that the named outputs need."""
    need, keep = set(outputs), []
    for n in reversed(graph.node):
        if any(o in need for o in n.output):
            keep.append(n)
            need.update(i for i in n.input if i)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    used = {i for n in keep for i in n.input}
    inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def build(ckpt, size=SIZE, chroma=1.0, history=""):
    warp = mwg.build(size, 64)
    g = warp.graph
    gs = [n for n in g.node if n.op_type == "GridSample" and n.input[0] == "reference"][0].output[0]
    for n in g.node:   # the warp's own outputs become internal tensors
        n.output[:] = ["warp_frame" if o == "frame" else "warp_mask" if o == "mask" else o for o in n.output]
    prune(g, [gs, "warp_mask"])

    stage = Mo.MouthStage()
    st = torch.load(ckpt, weights_only=False, map_location="cpu")
    stage.load_state_dict(st["net"])
    stage.chroma = chroma
    stage.eval()
    head = Head(stage)
    n = 1
    args = (torch.rand(n, 3, size, size), torch.rand(n, 3, size, size), torch.from_numpy(mwg.MEAN[None].astype(np.float32)),
            torch.from_numpy(mwg.MEAN[None].astype(np.float32)), torch.rand(n, 1, size, size))
    names = ["warped", "reference", "reference_landmarks", "target_landmarks", "warp_mask"]
    buf = io.BytesIO()
    dyn = {k: {0: "N"} for k in names + ["frame", "mask"]}
    torch.onnx.export(head, args, buf, opset_version=17, dynamo=False, input_names=names,
                      output_names=["frame", "mask"], dynamic_axes=dyn, do_constant_folding=True)
    mm = onnx.load_from_string(buf.getvalue())
    ops = {(o.domain or "", o.version) for o in mm.opset_import}
    assert ops <= {("", 17)}, ops
    # rename the stage's internal names, join its inputs to the warp graph's tensors
    ren = {"warped": gs, "warp_mask": "warp_mask"}
    keep = {"reference", "reference_landmarks", "target_landmarks", "frame", "mask"}

    def r(x):
        if not x:
            return x
        if x in ren:
            return ren[x]
        return x if x in keep else "mouth/" + x
    for nd in mm.graph.node:
        nd.input[:] = [r(x) for x in nd.input]
        nd.output[:] = [r(x) for x in nd.output]
        nd.name = "mouth/" + nd.name if nd.name else ""
        for at in nd.attribute:
            if at.type == onnx.AttributeProto.GRAPH:
                raise ValueError("subgraph in the mouth stage")
    for t in mm.graph.initializer:
        t.name = r(t.name)
    g.node.extend(mm.graph.node)
    g.initializer.extend(mm.graph.initializer)
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info("frame", onnx.TensorProto.FLOAT, ["N", 3, size, size]),
                     helper.make_tensor_value_info("mask", onnx.TensorProto.FLOAT, ["N", 1, size, size])])
    g.name = "landmarks2face_warp_mouth"
    nparam = sum(p.numel() for p in stage.parameters())
    for p in warp.metadata_props:
        if p.key == "talkingface.description":
            p.value = (f"piecewise-affine landmark warp with a learned mouth stage ({nparam} parameters, "
                       f"U-Net on a {Mo.M}x{Mo.M} mouth box, trained by self-reenactment on GRID s1, "
                       f"CC BY 4.0, Cooke et al. 2006; {history or str(st['step']) + ' steps'}; "
                       f"colour part of its change x{chroma:g})")
    p = warp.metadata_props.add()
    p.key, p.value = "talkingface.license", "weights trained on the GRID corpus (CC BY 4.0, Cooke et al. 2006)"
    onnx.checker.check_model(warp, full_check=True)
    return warp, stage, st


def check(path, stage, size=SIZE):
    """The exported file against the torch stage on the warp's output (one random-ish face)."""
    import onnxruntime as ort
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
    ws, wname = C.warp_session(size)
    rng = np.random.default_rng(0)
    ref = rng.random((1, 3, size, size), dtype=np.float32)
    rl = mwg.MEAN[None].astype(np.float32)
    tl = rl.copy()
    tl[0, 56:59, 1] += 0.03
    tl[0, 65:68, 1] += 0.03
    tl[0, 5:12, 1] += 0.02
    w, _, wm = C.run_warp(ws, wname, ref, rl, tl)
    f, m = sess.run(["frame", "mask"], {"reference": ref, "reference_landmarks": rl, "target_landmarks": tl})
    with torch.no_grad():
        tf, tm = Head(stage)(torch.from_numpy(w), torch.from_numpy(ref), torch.from_numpy(rl), torch.from_numpy(tl),
                             torch.from_numpy(wm))
    return float(np.abs(f - tf.numpy()).max()), float(np.abs(m - tm.numpy()).max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=str(C.L2F / "run" / "ckpt.pt"))
    ap.add_argument("--out", default=str(C.ROOT / "models" / "landmarks2face_mouth.onnx"))
    ap.add_argument("--chroma", type=float, default=0.0,
                    help="scale of the colour part of the stage's change (1: as trained; 0, shipped: luminance only)")
    ap.add_argument("--history", default="",
                    help="how the weights were trained, for the description (default: the checkpoint's step count)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, stage, st = build(a.ckpt, chroma=a.chroma, history=a.history)
    onnx.save(model, a.out)
    df, dm = check(a.out, stage)
    print(json.dumps({"out": a.out, "bytes": pathlib.Path(a.out).stat().st_size, "step": st["step"],
                      "max_abs_diff_frame_vs_torch": df, "max_abs_diff_mask_vs_torch": dm}))
    assert df < 1e-3 and dm < 1e-3


if __name__ == "__main__":
    main()
