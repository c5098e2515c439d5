import sys, os, pickle, numpy as np
sys.path.insert(0, os.path.abspath("a2l")); os.chdir("a2l")
import common as C, targets as T, train as TR
rng = np.random.default_rng(17)
items = TR.load("train")
from talkingface_kit.asterisk import is_test
ex = [it for it in pickle.load(open("../cache/asterisk.pkl", "rb")) if not is_test(it["name"])]
for it in ex: it["x"] = it["audio"].astype(np.float32) / 32767.0
items = items + ex * 3
real = TR.load_real(os.path.expanduser("~/.cache/talkingface/realdata/corpus.pkl"))
def stats(os_, ss):
    o = np.concatenate(os_); s = np.concatenate(ss) > 0
    per = [x.std() for x, q in zip(os_, ss) if x.std() > 0.01]
    return o[~s].mean(), o[s].mean(), o[s].std(), o.std(), np.median(per)
ro = [T.mouth_opening(r["disp"] + T.MEAN_FACE[None]) for r in real]; rs = [r["sp"] for r in real]
print("s1 real clips: sil mean %.4f speech mean %.4f speech std %.4f all std %.4f median per-clip std %.4f" % stats(ro, rs))
to, ts = [], []
for _ in range(200):
    _, o, w, sp, _ = TR.make_crop(rng, items, aug=False)
    to.append(T.mouth_opening(T.landmarks(o, w))); ts.append(sp)
print("teacher crops (gain 1): sil mean %.4f speech mean %.4f speech std %.4f all std %.4f median per-crop std %.4f" % stats(to, ts))
ro, rs = [], []
for _ in range(200):
    x, d, sp, ok = TR.make_real_crop(rng, real, aug=False)
    ro.append(T.mouth_opening(d + T.MEAN_FACE[None])); rs.append(sp)
print("real crops (88 fr): sil mean %.4f speech mean %.4f speech std %.4f all std %.4f median per-crop std %.4f" % stats(ro, rs))
print("speech fraction: teacher crops %.2f, real crops %.2f" % (np.mean(np.concatenate(ts) > 0), np.mean(np.concatenate(rs) > 0)))
