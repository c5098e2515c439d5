"""Exports runs/model.pt to models/audio2landmarks.onnx (hand-built graph, opset 17) and checks it.

Checks: ONNX vs PyTorch (1e-4), chunked streaming vs whole (1e-5), ms/frame on one thread.
"""
import os, sys, time
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

import common as C
import targets as T

OUT = os.environ.get("A2L_OUT", os.path.join(C.HERE, "..", "..", "models", "audio2landmarks.onnx"))
H = C.HIDDEN


def onnx_gates(w):
    """torch gate order i,f,g,o -> ONNX i,o,f,c along axis 0."""
    i, f, g, o = np.split(w, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def build(model, description):
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits = [numpy_helper.from_array(sd["mean"], "feat_mean"),
             numpy_helper.from_array((1.0 / sd["std"]).astype(np.float32), "feat_inv_std")]
    nodes = [helper.make_node("Sub", ["features", "feat_mean"], ["xc"]),
             helper.make_node("Mul", ["xc", "feat_inv_std"], ["xn"]),
             helper.make_node("Transpose", ["xn"], ["x0"], perm=[1, 0, 2]),
             helper.make_node("Split", ["state_in.h", "split2"], ["h0", "h1"], axis=0),
             helper.make_node("Split", ["state_in.c", "split2"], ["c0", "c1"], axis=0)]
    inits.append(numpy_helper.from_array(np.array([1, 1], np.int64), "split2"))
    inits.append(numpy_helper.from_array(np.array([-1, 1, H], np.int64), "shape_tbh"))
    x = "x0"
    for l in range(C.LAYERS):
        W = onnx_gates(sd[f"lstm.weight_ih_l{l}"])[None]
        R = onnx_gates(sd[f"lstm.weight_hh_l{l}"])[None]
        B = np.concatenate([onnx_gates(sd[f"lstm.bias_ih_l{l}"]), onnx_gates(sd[f"lstm.bias_hh_l{l}"])])[None]
        inits += [numpy_helper.from_array(W, f"W{l}"), numpy_helper.from_array(R, f"R{l}"),
                  numpy_helper.from_array(B.astype(np.float32), f"B{l}")]
        nodes.append(helper.make_node("LSTM", [x, f"W{l}", f"R{l}", f"B{l}", "", f"h{l}", f"c{l}"],
                                      [f"y{l}", f"hn{l}", f"cn{l}"], hidden_size=H))
        nodes.append(helper.make_node("Reshape", [f"y{l}", "shape_tbh"], [f"x{l + 1}"]))
        x = f"x{l + 1}"
    nodes += [helper.make_node("Concat", ["hn0", "hn1"], ["state_out.h"], axis=0),
              helper.make_node("Concat", ["cn0", "cn1"], ["state_out.c"], axis=0)]
    P = (sd["head.weight"].T * C.SCALE).astype(np.float32)
    Pb = (sd["head.bias"] * C.SCALE + T.MEAN_FACE.reshape(-1)).astype(np.float32)
    inits += [numpy_helper.from_array(np.array([-1, H], np.int64), "shape_th"),
              numpy_helper.from_array(P, "P"), numpy_helper.from_array(Pb, "Pb"),
              numpy_helper.from_array(sd["sp.weight"].T.copy(), "S"), numpy_helper.from_array(sd["sp.bias"], "Sb"),
              numpy_helper.from_array(np.array([1, -1, 68, 2], np.int64), "shape_lm"),
              numpy_helper.from_array(np.array([1, -1], np.int64), "shape_sp")]
    nodes += [helper.make_node("Reshape", [x, "shape_th"], ["h"]),
              helper.make_node("MatMul", ["h", "P"], ["d"]),
              helper.make_node("Add", ["d", "Pb"], ["lm_flat"]),
              helper.make_node("Reshape", ["lm_flat", "shape_lm"], ["landmarks"]),
              helper.make_node("MatMul", ["h", "S"], ["s0"]),
              helper.make_node("Add", ["s0", "Sb"], ["s_logit"]),
              helper.make_node("Sigmoid", ["s_logit"], ["s_prob"]),
              helper.make_node("Reshape", ["s_prob", "shape_sp"], ["speech"])]
    st = [C.LAYERS, 1, H]
    inputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, "T", C.NFEAT]),
              helper.make_tensor_value_info("state_in.h", TensorProto.FLOAT, st),
              helper.make_tensor_value_info("state_in.c", TensorProto.FLOAT, st)]
    outputs = [helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, [1, "T", 68, 2]),
               helper.make_tensor_value_info("speech", TensorProto.FLOAT, [1, "T"]),
               helper.make_tensor_value_info("state_out.h", TensorProto.FLOAT, st),
               helper.make_tensor_value_info("state_out.c", TensorProto.FLOAT, st)]
    graph = helper.make_graph(nodes, "audio2landmarks", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="talkingface-a2l")
    m.ir_version = 8
    meta = {"kind": "audio2landmarks", "version": "1", "description": description, **C.META}
    for k, v in meta.items():
        e = m.metadata_props.add(); e.key = "talkingface." + k; e.value = v
    onnx.checker.check_model(m)
    return m


def run(sess, feats, h=None, c=None):
    z = np.zeros((C.LAYERS, 1, H), np.float32)
    return sess.run(None, {"features": feats[None], "state_in.h": z if h is None else h, "state_in.c": z if c is None else c})


def main():
    ck = torch.load(sys.argv[1] if len(sys.argv) > 1 else os.path.join(C.HERE, "runs", "model.pt"))
    model = C.A2L(); model.load_state_dict(ck["state"]); model.eval()
    teacher = ck.get("teacher", os.environ.get("A2L_TEACHER", "prior"))
    extra = ck.get("extra", os.path.basename(os.environ.get("A2L_EXTRA", "")))
    speech = "TTS speech (espeak-ng/MBROLA, flite)" + (" and real speech (Asterisk prompts, pocketsphinx-aligned)"
                                                       if "asterisk" in extra else "")
    teach = ("phone-timed teacher mouth targets (NOTES.md GRID-fitted openings, mouth/jaw geometry fitted to GRID "
             "dlib landmarks)" if teacher == "fit" else "phone-timed teacher mouth targets")
    desc = (f"talkingface a2l v1: 2x{H} LSTM, logmel+deltas, lookahead {C.LOOKAHEAD} frames; trained "
            f"{ck['steps']} steps on {speech} with {teach}; canonical 68 points, mouth and jaw motion only")
    m = build(model, desc)
    onnx.save(m, OUT)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    sess = ort.InferenceSession(OUT, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(16000 * 8) * 0.05 * np.repeat(rng.random(200) > 0.4, 640)).astype(np.float32)
    feats = C.F.features(x, C.META)
    lm, sp, hn, cn = run(sess, feats)
    with torch.no_grad():
        out, logit, _ = model(torch.tensor(feats)[None])
    ref_lm = out[0].numpy().reshape(-1, 68, 2) * C.SCALE + T.MEAN_FACE
    ref_sp = torch.sigmoid(logit[0]).numpy()
    e1 = max(np.abs(lm[0] - ref_lm).max(), np.abs(sp[0] - ref_sp).max())
    print(f"onnx vs torch max abs diff: {e1:.2e}")
    assert e1 < 1e-4
    for chunk in (1, 7, 13):
        h = c = None; parts_lm, parts_sp = [], []
        for s in range(0, feats.shape[0], chunk):
            a, b, h, c = run(sess, feats[s:s + chunk], h, c)
            parts_lm.append(a[0]); parts_sp.append(b[0])
        e2 = max(np.abs(np.concatenate(parts_lm) - lm[0]).max(), np.abs(np.concatenate(parts_sp) - sp[0]).max())
        print(f"chunk {chunk}: max abs diff vs whole {e2:.2e}")
        assert e2 < 1e-5
    f1500 = np.tile(feats, (8, 1))[:1500]
    run(sess, f1500)
    ts = []
    for _ in range(5):
        t0 = time.perf_counter(); run(sess, f1500); ts.append(time.perf_counter() - t0)
    ms = min(ts) / 1500 * 1000
    print(f"speed (1 thread, 1500 frames in one call): {ms:.4f} ms/frame = {40 / ms:.0f}x real time")
    h = c = None; t0 = time.perf_counter()
    for s in range(0, 1500, 1):
        _, _, h, c = run(sess, f1500[s:s + 1], h, c)
    ms1 = (time.perf_counter() - t0) / 1500 * 1000
    print(f"speed (1 thread, frame by frame): {ms1:.4f} ms/frame = {40 / ms1:.0f}x real time")


if __name__ == "__main__":
    main()
