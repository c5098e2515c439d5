"""Spread of a model's mouth opening on voices it knows only from the teacher (held-out TTS voices,
held-out Asterisk prompts) against s1's validation crops, all in 88-frame crops built as in training
(no augmentation), pooled std over crops."""
import sys, os, pickle, numpy as np, torch
sys.path.insert(0, os.path.abspath("a2l"))
import common as C, targets as T, train as TR
from talkingface_kit import canon
from talkingface_kit.evaluate import Model
from talkingface_kit.asterisk import is_test
torch.set_num_threads(1)
os.chdir("a2l")
test = TR.load("test")
ast = [it for it in pickle.load(open("../cache/asterisk.pkl", "rb")) if is_test(it["name"])]
for it in ast: it["x"] = it["audio"].astype(np.float32) / 32767.0
real_val = TR.load_real(os.path.expanduser("~/.cache/talkingface/realdata/corpus.pkl"), "val")
sets = [(v, [it for it in test if it["voice"] == v]) for v in sorted({it["voice"] for it in test})] + [("asterisk", ast)]
NC = 48
crops = {}
for name, its in sets:
    rng = np.random.default_rng(5)
    cs = []
    for _ in range(NC):
        x, o, w, sp, _ = TR.make_crop(rng, its, aug=False)
        if sp.sum() > 0: cs.append((x, T.mouth_opening(T.landmarks(o, w)), sp))
    crops[name] = cs
rng = np.random.default_rng(5)
cs = []
for _ in range(NC):
    x, d, sp, ok = TR.make_real_crop(rng, real_val, aug=False)
    cs.append((x, T.mouth_opening(d + T.MEAN_FACE[None]), sp))
crops["s1 val (real)"] = cs
for path in sys.argv[1:]:
    m = Model(os.path.abspath(os.path.join("..", path)) if not os.path.isabs(path) else path)
    print("##", path)
    for name, cs in crops.items():
        pv, tv, pc, tc = [], [], [], []
        for x, to, sp in cs:
            f = C.torch_features(torch.tensor(x[None]), len(to) + m.d)[0].numpy()
            lm, _, _ = m.run(f, m.zero_state())
            po = canon.mouth_opening(lm[m.d:].astype(np.float64))
            pv.append(po.var()); tv.append(to.var())
            s = sp > 0
            if s.any() and (~s).any():
                pc.append(po[s].mean() - po[~s].mean()); tc.append(to[s].mean() - to[~s].mean())
        ps, ts = np.sqrt(np.mean(pv)), np.sqrt(np.mean(tv))
        print("  %-16s pred pooled std %.4f  target std %.4f (teacher x1 or real)  ratio %.2f | speech-silence contrast pred %.4f target %.4f" % (name, ps, ts, ps / ts, np.mean(pc), np.mean(tc)))
