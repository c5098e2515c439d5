"""The shipped audio2landmarks model against docs/model-contract.md: metadata, names, shapes, the
streaming law (chunked == whole), silence closes the mouth, and ONNX == PyTorch where the checkpoint
is present (training/a2l/runs/, not committed).

Run: training/.venv/bin/python -m pytest training/tests
"""
import os
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

KIT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))
from talkingface_kit import canon, features  # noqa: E402

# The shipped models (the default and the low-latency one), or A2L_MODEL alone.
SHIPPED = {"default": (KIT.parent / "models" / "audio2landmarks.onnx", "default.pt"),
           "lowlatency": (KIT.parent / "models" / "audio2landmarks_lowlatency.onnx", "lowlatency.pt")}
if os.environ.get("A2L_MODEL"):
    SHIPPED = {"given": (pathlib.Path(os.environ["A2L_MODEL"]), None)}
KEYS = ["kind", "version", "description", "sample_rate", "hop_length", "win_length", "n_fft", "n_mels",
        "fmin", "fmax", "features", "lookahead"]


@pytest.fixture(scope="module", params=sorted(SHIPPED))
def which(request):
    return request.param


@pytest.fixture(scope="module")
def sess(which):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(SHIPPED[which][0]), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def meta(sess):
    m = sess.get_modelmeta().custom_metadata_map
    return {k.split(".", 1)[1]: v for k, v in m.items() if k.startswith("talkingface.")}


def zero_state(sess):
    return {i.name: np.zeros(i.shape, np.float32) for i in sess.get_inputs() if i.name.startswith("state_in.")}


def run(sess, f, state):
    feed = {"features": f[None]}
    feed.update(state)
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(None, feed)))
    new = {k: out["state_out." + k.split(".", 1)[1]] for k in state}
    return out, new


def speechy(seconds=6.0, seed=5):
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    x = 0.1 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 3 * t) > 0) + 0.02 * rng.standard_normal(n)
    return x.astype(np.float32)


def test_lowlatency_is_shipped():
    """The low-latency model (the element's low-latency property) exists and is at most 1 frame late."""
    path = KIT.parent / "models" / "audio2landmarks_lowlatency.onnx"
    if "lowlatency" not in SHIPPED:
        pytest.skip("A2L_MODEL given")
    m = onnx.load(str(path))
    meta = {p.key: p.value for p in m.metadata_props}
    assert int(meta["talkingface.lookahead"]) <= 1


def test_metadata(meta, which):
    for k in KEYS:
        assert k in meta, k
    assert meta["kind"] == "audio2landmarks" and meta["version"] == "1"
    assert int(meta["sample_rate"]) == 16000 and int(meta["sample_rate"]) % int(meta["hop_length"]) == 0
    assert int(meta["n_fft"]) >= int(meta["win_length"])
    assert float(meta["fmax"]) <= int(meta["sample_rate"]) / 2
    assert all(p in features.PARTS for p in meta["features"].split(","))
    assert 0 <= int(meta["lookahead"]) <= 8
    assert SHIPPED[which][0].stat().st_size < 5_000_000


def test_io(sess, meta):
    ins = {i.name: i for i in sess.get_inputs()}
    outs = {o.name: o for o in sess.get_outputs()}
    f = int(meta["n_mels"]) * len(meta["features"].split(","))
    assert ins["features"].shape[0] == 1 and ins["features"].shape[2] == f
    assert isinstance(ins["features"].shape[1], str)  # dynamic T
    assert list(outs["landmarks"].shape[2:]) == [68, 2]
    for name in ins:
        if name.startswith("state_in."):
            assert "state_out." + name.split(".", 1)[1] in outs
    assert set(ins) - {"features"} == {n for n in ins if n.startswith("state_in.")}


def test_streaming_law(sess, meta):
    f = features.features(speechy(), meta)
    whole, _ = run(sess, f, zero_state(sess))
    for chunk in (1, 3, 7, 25, 64):
        st = zero_state(sess)
        parts = []
        for s in range(0, len(f), chunk):
            o, st = run(sess, f[s:s + chunk], st)
            parts.append(o["landmarks"][0])
        assert np.abs(np.concatenate(parts) - whole["landmarks"][0]).max() < 1e-5, chunk


def test_silence_closes_mouth(sess, meta):
    f = features.features(np.zeros(16000 * 4, np.float32), meta)
    o, _ = run(sess, f, zero_state(sess))
    op = canon.mouth_opening(o["landmarks"][0])
    # closed after the first second; from the zero state the low-latency model starts at 0.033 and
    # closes within the first second (docs/model-card.md), the default starts closed
    assert op[25:].max() < 0.03
    assert op.max() < 0.04
    if "speech" in o:
        assert o["speech"][0].max() < 0.1
    # speech opens it, and the landmarks stay near the mean face
    o, _ = run(sess, features.features(speechy(), meta), zero_state(sess))
    lm = o["landmarks"][0]
    assert canon.mouth_opening(lm).max() > 0.05
    assert np.abs(lm - canon.load_mean_face()).max() < 0.2


@pytest.mark.parametrize("arch", ["lstm", "cnngru"])
def test_export_of_each_architecture(arch, tmp_path):
    """Every architecture of the kit exports to the contract: random weights (and batch-norm
    statistics), ONNX Runtime == PyTorch within 1e-4, chunked == whole."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(KIT / "a2l"))
    import common as C
    import export as E
    torch.manual_seed(1)
    model = C.make_model(arch)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(); m.running_var.uniform_(0.5, 2.0)
    model.eval()
    path = tmp_path / f"{arch}.onnx"
    onnx.save(E.build(model, "test"), str(path))
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    f = np.random.default_rng(0).standard_normal((60, C.NFEAT)).astype(np.float32)
    whole, _ = run(s, f, zero_state(s))
    with torch.no_grad():
        out, logit, _ = model(torch.tensor(f)[None])
    ref = out[0].numpy().reshape(-1, 68, 2) * C.SCALE + canon.load_mean_face()
    assert np.abs(ref).max() > 0.5  # the check is not on a zero output
    assert np.abs(whole["landmarks"][0] - ref).max() < 1e-4
    assert np.abs(whole["speech"][0] - torch.sigmoid(logit[0]).numpy()).max() < 1e-4
    for chunk in (1, 7):
        st, parts = zero_state(s), []
        for i in range(0, len(f), chunk):
            o, st = run(s, f[i:i + chunk], st)
            parts.append(o["landmarks"][0])
        assert np.abs(np.concatenate(parts) - whole["landmarks"][0]).max() < 1e-5


def test_onnx_matches_torch(sess, meta, which):
    torch = pytest.importorskip("torch")
    if SHIPPED[which][1] is None:
        pytest.skip("no checkpoint for a given model")
    ck_path = str(KIT / "a2l" / "runs" / SHIPPED[which][1])
    if which == "default":
        ck_path = os.environ.get("A2L_CHECKPOINT", ck_path)
    if not os.path.exists(ck_path):
        pytest.skip(f"no checkpoint {ck_path}")
    sys.path.insert(0, str(KIT / "a2l"))
    import common as C
    ck = torch.load(ck_path)
    model = C.make_model(ck.get("arch", "lstm"))
    model.load_state_dict({k: v for k, v in ck["state"].items() if not k.startswith("ph.")})  # training-only head
    model.eval()
    f = features.features(speechy(), meta)
    o, _ = run(sess, f, zero_state(sess))
    with torch.no_grad():
        out, logit, _ = model(torch.tensor(f)[None])
    ref = out[0].numpy().reshape(-1, 68, 2) * C.SCALE + canon.load_mean_face()
    assert np.abs(o["landmarks"][0] - ref).max() < 1e-4
    assert np.abs(o["speech"][0] - torch.sigmoid(logit[0]).numpy()).max() < 1e-4
