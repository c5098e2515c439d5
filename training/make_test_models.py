"""Makes the small, deterministic ONNX models the Rust tests run (tests/models/).

They test the plumbing of the elements (the contract, streaming state, timestamps, errors); they
are not the product's model. Needs only numpy and onnx (no PyTorch):

    python3 training/make_test_models.py
"""
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "models"
MEAN_FACE = np.loadtxt(ROOT / "models" / "mean_face.txt", dtype=np.float32).reshape(-1)

META = {
    "kind": "audio2landmarks",
    "version": "1",
    "description": "test model: a tiny LSTM with fixed random weights (plumbing only)",
    "sample_rate": "16000",
    "hop_length": "640",
    "win_length": "1024",
    "n_fft": "1024",
    "n_mels": "40",
    "fmin": "60",
    "fmax": "7600",
    "features": "logmel,delta,delta2",
    "lookahead": "2",
}
HIDDEN = 32


def lstm_model(meta=META, feature_name="features", drop_state_out=False, hidden=HIDDEN, seed=7, n_feat=None,
               fail_at_run_time=False):
    """The test LSTM. With fail_at_run_time, it fits the contract when opened but every run fails in
    ONNX Runtime: the landmarks are reshaped to [-1, -1, 68, 2] (two unknown sizes) through a
    shape that depends on the data (plus zero), so that shape inference cannot see it at load time."""
    rng = np.random.default_rng(seed)
    if n_feat is None:
        n_feat = int(meta["n_mels"]) * len(meta["features"].split(","))
    scale = 1.0 / np.sqrt(n_feat * 20.0)
    W = (rng.standard_normal((1, 4 * hidden, n_feat)) * scale).astype(np.float32)
    R = (rng.standard_normal((1, 4 * hidden, hidden)) * 0.3 / np.sqrt(hidden)).astype(np.float32)
    B = np.zeros((1, 8 * hidden), dtype=np.float32)
    P = (rng.standard_normal((hidden, 136)) * 0.02).astype(np.float32)
    S = (rng.standard_normal((hidden, 1)) * 0.5).astype(np.float32)
    inits = [
        numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"), numpy_helper.from_array(B, "B"),
        numpy_helper.from_array(P, "P"), numpy_helper.from_array(S, "S"),
        numpy_helper.from_array(MEAN_FACE, "mean_face"),
        numpy_helper.from_array(np.array([-1, hidden], dtype=np.int64), "shape_th"),
        numpy_helper.from_array(np.array([-1 if fail_at_run_time else 1, -1, 68, 2], dtype=np.int64), "shape_lm"),
        numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape_sp"),
    ]
    nodes = [
        helper.make_node("Transpose", [feature_name], ["x_tbf"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["x_tbf", "W", "R", "B", "", "state_in.h", "state_in.c"],
                         ["y", "state_out.h", "state_out.c"], hidden_size=hidden),
        helper.make_node("Reshape", ["y", "shape_th"], ["h"]),
        helper.make_node("MatMul", ["h", "P"], ["d"]),
        helper.make_node("Add", ["d", "mean_face"], ["lm_flat"]),
    ]
    if fail_at_run_time:
        inits.append(numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero_f"))
        nodes += [
            helper.make_node("ReduceSum", [feature_name], ["sum_x"], keepdims=0),
            helper.make_node("Mul", ["sum_x", "zero_f"], ["zero_x"]),
            helper.make_node("Cast", ["zero_x"], ["zero_i"], to=TensorProto.INT64),
            helper.make_node("Add", ["shape_lm", "zero_i"], ["shape_lm_run"]),
            helper.make_node("Reshape", ["lm_flat", "shape_lm_run"], ["landmarks"]),
        ]
    else:
        nodes.append(helper.make_node("Reshape", ["lm_flat", "shape_lm"], ["landmarks"]))
    nodes += [
        helper.make_node("MatMul", ["h", "S"], ["s_logit"]),
        helper.make_node("Sigmoid", ["s_logit"], ["s_prob"]),
        helper.make_node("Reshape", ["s_prob", "shape_sp"], ["speech"]),
    ]
    inputs = [
        helper.make_tensor_value_info(feature_name, TensorProto.FLOAT, [1, "T", n_feat]),
        helper.make_tensor_value_info("state_in.h", TensorProto.FLOAT, [1, 1, hidden]),
        helper.make_tensor_value_info("state_in.c", TensorProto.FLOAT, [1, 1, hidden]),
    ]
    outputs = [
        helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, [1, "T", 68, 2]),
        helper.make_tensor_value_info("speech", TensorProto.FLOAT, [1, "T"]),
    ]
    if not drop_state_out:
        outputs += [
            helper.make_tensor_value_info("state_out.h", TensorProto.FLOAT, [1, 1, hidden]),
            helper.make_tensor_value_info("state_out.c", TensorProto.FLOAT, [1, 1, hidden]),
        ]
    graph = helper.make_graph(nodes, "a2l_test", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="talkingface-tests")
    model.ir_version = 8
    for k, v in meta.items():
        e = model.metadata_props.add()
        e.key = "talkingface." + k
        e.value = v
    onnx.checker.check_model(model)
    return model


def l2f_identity_model(size=128, fail_at_run_time=False):
    """A landmarks2face model that returns the reference crop unchanged (no mask): another size and
    crop than the default generator, to show the element is not specific to it. With
    fail_at_run_time, it fits the contract when opened but every run fails in ONNX Runtime (a
    Reshape to a size that the input cannot have)."""
    if fail_at_run_time:
        nodes = [helper.make_node("Reshape", ["reference", "bad_shape"], ["frame"])]
        inits = [numpy_helper.from_array(np.array([-1, 3, size, size + 1], dtype=np.int64), "bad_shape")]
    else:
        nodes = [helper.make_node("Identity", ["reference"], ["frame"])]
        inits = []
    inputs = [
        helper.make_tensor_value_info("reference", TensorProto.FLOAT, ["N", 3, size, size]),
        helper.make_tensor_value_info("reference_landmarks", TensorProto.FLOAT, ["N", 68, 2]),
        helper.make_tensor_value_info("target_landmarks", TensorProto.FLOAT, ["N", 68, 2]),
    ]
    outputs = [helper.make_tensor_value_info("frame", TensorProto.FLOAT, ["N", 3, size, size])]
    graph = helper.make_graph(nodes, "l2f_identity", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="talkingface-tests")
    model.ir_version = 8
    for k, v in {"kind": "landmarks2face", "version": "1", "size": str(size),
                 "description": "test model: returns the reference crop", "crop": "eyes:0.25,0.4,0.75,0.4"}.items():
        e = model.metadata_props.add()
        e.key, e.value = "talkingface." + k, v
    onnx.checker.check_model(model)
    return model


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    onnx.save(lstm_model(), OUT / "a2l_test.onnx")
    onnx.save(lstm_model(meta={**META, "lookahead": "0"}), OUT / "a2l_lookahead0.onnx")
    # Models that break the contract, one way each.
    onnx.save(lstm_model(feature_name="audio"), OUT / "bad_input_name.onnx")
    onnx.save(lstm_model(meta={k: v for k, v in META.items() if k != "hop_length"}), OUT / "bad_missing_key.onnx")
    onnx.save(lstm_model(meta={**META, "kind": "landmarks2face"}), OUT / "bad_kind.onnx")
    onnx.save(lstm_model(n_feat=96), OUT / "bad_feature_size.onnx")  # metadata says 120
    onnx.save(lstm_model(drop_state_out=True), OUT / "bad_state.onnx")
    (OUT / "not_a_model.onnx").write_text("this is not an ONNX file\n")
    onnx.save(l2f_identity_model(), OUT / "l2f_identity.onnx")
    # Models that fit the contract when opened but fail in ONNX Runtime on every run.
    onnx.save(l2f_identity_model(fail_at_run_time=True), OUT / "l2f_fails_at_run_time.onnx")
    onnx.save(lstm_model(fail_at_run_time=True), OUT / "a2l_fails_at_run_time.onnx")
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
