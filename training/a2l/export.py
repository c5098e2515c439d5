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


def lstm_body(sd):
    """Eskimez LSTM: features -> [T*1, H] hidden; LSTM states h and c [LAYERS, 1, H]."""
    inits = [numpy_helper.from_array(np.array([1, 1], np.int64), "split2"),
             numpy_helper.from_array(np.array([-1, 1, H], np.int64), "shape_tbh")]
    nodes = [helper.make_node("Transpose", ["xn"], ["x0"], perm=[1, 0, 2]),
             helper.make_node("Split", ["state_in.h", "split2"], ["h0", "h1"], axis=0),
             helper.make_node("Split", ["state_in.c", "split2"], ["c0", "c1"], axis=0)]
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
    st = [C.LAYERS, 1, H]
    return nodes, inits, x, H, [("h", st), ("c", st)]


def gru_gates(w):
    """torch gate order r,z,n -> ONNX z,r,h along axis 0."""
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def cnngru_body(sd):
    """Wang et al. lip branch, causal: each convolution (batch norm folded in) reads its past K-1
    inputs from state_in.conv<l> [1, C, K-1]; GRU hidden in state_in.h [1, 1, H]."""
    K, G = C.CONV_K, C.GRU_H
    nodes = [helper.make_node("Transpose", ["xn"], ["c_in0"], perm=[0, 2, 1])]  # [1, F, T]
    inits = [numpy_helper.from_array(np.array([-(K - 1)], np.int64), "keep_start"),
             numpy_helper.from_array(np.array([1 << 62], np.int64), "keep_end"),
             numpy_helper.from_array(np.array([2], np.int64), "axis2"),
             numpy_helper.from_array(np.array([-1, 1, G], np.int64), "shape_tbg")]
    states = []
    x = "c_in0"
    for l in range(C.CONV_LAYERS):
        w, b = sd[f"convs.{l}.weight"], sd[f"convs.{l}.bias"]
        g, beta = sd[f"bns.{l}.weight"], sd[f"bns.{l}.bias"]
        mu, var = sd[f"bns.{l}.running_mean"], sd[f"bns.{l}.running_var"]
        k = g / np.sqrt(var + 1e-5)
        inits += [numpy_helper.from_array((w * k[:, None, None]).astype(np.float32), f"cw{l}"),
                  numpy_helper.from_array(((b - mu) * k + beta).astype(np.float32), f"cb{l}")]
        nodes += [helper.make_node("Concat", [f"state_in.conv{l}", x], [f"cat{l}"], axis=2),
                  helper.make_node("Slice", [f"cat{l}", "keep_start", "keep_end", "axis2"], [f"state_out.conv{l}"]),
                  helper.make_node("Conv", [f"cat{l}", f"cw{l}", f"cb{l}"], [f"conv{l}"], kernel_shape=[K]),
                  helper.make_node("Relu", [f"conv{l}"], [f"c_in{l + 1}"])]
        states.append((f"conv{l}", [1, w.shape[1], K - 1]))
        x = f"c_in{l + 1}"
    inits += [numpy_helper.from_array(sd["enc.weight"].T.copy(), "EW"), numpy_helper.from_array(sd["enc.bias"], "Eb"),
              numpy_helper.from_array(gru_gates(sd["gru.weight_ih_l0"])[None], "GW"),
              numpy_helper.from_array(gru_gates(sd["gru.weight_hh_l0"])[None], "GR"),
              numpy_helper.from_array(np.concatenate([gru_gates(sd["gru.bias_ih_l0"]),
                                                      gru_gates(sd["gru.bias_hh_l0"])])[None], "GB")]
    nodes += [helper.make_node("Transpose", [x], ["enc_in"], perm=[2, 0, 1]),  # [T, 1, C]
              helper.make_node("MatMul", ["enc_in", "EW"], ["enc0"]),
              helper.make_node("Add", ["enc0", "Eb"], ["enc1"]),
              helper.make_node("Relu", ["enc1"], ["enc"]),
              helper.make_node("GRU", ["enc", "GW", "GR", "GB", "", "state_in.h"], ["gy", "state_out.h"],
                               hidden_size=G, linear_before_reset=1),
              helper.make_node("Reshape", ["gy", "shape_tbg"], ["hid"])]
    states.append(("h", [1, 1, G]))
    return nodes, inits, "hid", G, states


def build(model, description):
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits = [numpy_helper.from_array(sd["mean"], "feat_mean"),
             numpy_helper.from_array((1.0 / sd["std"]).astype(np.float32), "feat_inv_std")]
    nodes = [helper.make_node("Sub", ["features", "feat_mean"], ["xc"]),
             helper.make_node("Mul", ["xc", "feat_inv_std"], ["xn"])]
    body = cnngru_body if model.arch == "cnngru" else lstm_body
    b_nodes, b_inits, x, hid, states = body(sd)
    nodes += b_nodes
    inits += b_inits
    P = (sd["head.weight"].T * C.SCALE).astype(np.float32)
    Pb = (sd["head.bias"] * C.SCALE + T.MEAN_FACE.reshape(-1)).astype(np.float32)
    inits += [numpy_helper.from_array(np.array([-1, hid], np.int64), "shape_th"),
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
    inputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, "T", C.NFEAT])]
    inputs += [helper.make_tensor_value_info(f"state_in.{k}", TensorProto.FLOAT, s) for k, s in states]
    outputs = [helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, [1, "T", 68, 2]),
               helper.make_tensor_value_info("speech", TensorProto.FLOAT, [1, "T"])]
    outputs += [helper.make_tensor_value_info(f"state_out.{k}", TensorProto.FLOAT, s) for k, s in states]
    graph = helper.make_graph(nodes, "audio2landmarks", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="talkingface-a2l")
    m.ir_version = 8
    meta = {"kind": "audio2landmarks", "version": "1", "description": description, **C.META}
    for k, v in meta.items():
        e = m.metadata_props.add(); e.key = "talkingface." + k; e.value = v
    onnx.checker.check_model(m)
    return m


def run(sess, feats, state=None):
    """-> landmarks [1,T,68,2], speech [1,T], new state (dict); state None = zeros."""
    ins = [i for i in sess.get_inputs() if i.name.startswith("state_in.")]
    if state is None:
        state = {i.name: np.zeros(i.shape, np.float32) for i in ins}
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(None, {"features": feats[None], **state})))
    return out["landmarks"], out["speech"], {i.name: out["state_out." + i.name.split(".", 1)[1]] for i in ins}


def main():
    ck = torch.load(sys.argv[1] if len(sys.argv) > 1 else os.path.join(C.HERE, "runs", "model.pt"))
    arch = ck.get("arch", "lstm")
    C.LOOKAHEAD = int(ck.get("lookahead", 3)); C.META["lookahead"] = str(C.LOOKAHEAD)
    model = C.make_model(arch); model.load_state_dict({k: v for k, v in ck["state"].items() if not k.startswith("ph.")})
    model.eval()
    teacher = ck.get("teacher", os.environ.get("A2L_TEACHER", "prior"))
    extra = ck.get("extra", os.path.basename(os.environ.get("A2L_EXTRA", "")))
    voices = ck.get("voices", ["mb-", "fl-"])
    engines = [n for p, n in (("mb-", "espeak-ng/MBROLA"), ("fl-", "flite"), ("fe-", "festival"))
               if any(v.startswith(p) for v in voices)]
    speech = f"TTS speech ({', '.join(engines)}{f'; {len(voices)} voices' if 'voices' in ck else ''})" + (" and real speech (Asterisk prompts, pocketsphinx-aligned)"
                                                       if "asterisk" in extra else "")
    teach = ("phone-timed teacher mouth targets (NOTES.md GRID-fitted openings, mouth/jaw geometry fitted to GRID "
             "dlib landmarks)" if teacher == "fit" else "phone-timed teacher mouth targets")
    net = (f"causal CNN ({C.CONV_LAYERS}x{C.CONV_CH}, kernel {C.CONV_K}) + {C.GRU_H} GRU (Wang et al.)"
           if arch == "cnngru" else f"2x{H} LSTM (Eskimez et al.)")
    loss = ck.get("loss", "mse") + (f", temporal-difference weight {ck['vel']:g}" if "vel" in ck else "") + \
        (f", phoneme head weight {ck['phone']:g} (training only)" if ck.get("phone") else "")
    if ck.get("real"):
        teach += (f"; real mouths of GRID speaker s1 (CC BY 4.0, Cooke et al. 2006; landmarks by the kit's face "
                  f"analysis) on {ck.get('real_p', 0.5):g} of the crops"
                  + (", per-speaker amplitude normalisation" if ck.get("norm") else ""))
    if ck.get("voice_aug"):
        speech += ", voice augmentation (VTLP, codecs)"
    if ck.get("corr"):
        loss += f", opening correlation weight {ck['corr']:g}"
    if ck.get("std"):
        loss += f", opening spread weight {ck['std']:g}"
    desc = (f"talkingface a2l v1: {net}, logmel+deltas, lookahead {C.LOOKAHEAD} frames; trained "
            f"{ck['steps']} steps on {speech} with {teach}; loss {loss}; canonical 68 points, mouth and jaw motion only")
    m = build(model, desc)
    onnx.save(m, OUT)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    sess = ort.InferenceSession(OUT, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(16000 * 8) * 0.05 * np.repeat(rng.random(200) > 0.4, 640)).astype(np.float32)
    feats = C.F.features(x, C.META)
    lm, sp, _ = run(sess, feats)
    with torch.no_grad():
        out, logit, _ = model(torch.tensor(feats)[None])
    ref_lm = out[0].numpy().reshape(-1, 68, 2) * C.SCALE + T.MEAN_FACE
    ref_sp = torch.sigmoid(logit[0]).numpy()
    e1 = max(np.abs(lm[0] - ref_lm).max(), np.abs(sp[0] - ref_sp).max())
    print(f"onnx vs torch max abs diff: {e1:.2e}")
    assert e1 < 1e-4
    for chunk in (1, 7, 13):
        st = None; parts_lm, parts_sp = [], []
        for s in range(0, feats.shape[0], chunk):
            a, b, st = run(sess, feats[s:s + chunk], st)
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
    st = None; t0 = time.perf_counter()
    for s in range(0, 1500, 1):
        _, _, st = run(sess, f1500[s:s + 1], st)
    ms1 = (time.perf_counter() - t0) / 1500 * 1000
    print(f"speed (1 thread, frame by frame): {ms1:.4f} ms/frame = {40 / ms1:.0f}x real time")


if __name__ == "__main__":
    main()
