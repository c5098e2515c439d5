import sys, pickle, numpy as np, torch
sys.path.insert(0, "a2l")
import common as C
from talkingface_kit import canon, realdata
from talkingface_kit.evaluate import Model
from talkingface_kit.realeval import sets
items = pickle.load(open(realdata.CACHE / "corpus.pkl", "rb"))
S = sets(items)
m = Model(sys.argv[1])
def pred(x, n):
    f = C.torch_features(torch.tensor(x[None]), n + m.d)[0].numpy()
    lm, sp, _ = m.run(f, m.zero_state())
    return canon.mouth_opening(lm[m.d:].astype(np.float64)), sp[m.d:]
def spmask(it, n):
    t = (np.arange(n) + 0.5) / 25
    s = np.zeros(n, bool)
    for w, a, b in it["words"]:
        if w not in ("sil", "sp"): s[(t >= a) & (t < b)] = True
    return s
def spec(x, s):
    fr = x[: x.size // 640 * 640].reshape(-1, 640)
    n = min(len(fr), len(s)); fr, s = fr[:n], s[:n]
    P = np.abs(np.fft.rfft(fr * np.hanning(640), axis=1)) ** 2
    f = np.fft.rfftfreq(640, 1 / 16000)
    sil = 10 * np.log10((fr[~s] ** 2).mean() + 1e-12)
    ps = P[s].mean(0)
    hi = 10 * np.log10(ps[f > 4000].sum() / ps.sum())
    return sil, hi
for name, its in S:
    print("#", name)
    R = []
    for it in its:
        n = len(it["canon"]); x = it["audio"].astype(np.float64) / 32767
        po, sp = pred(x, n); to = canon.mouth_opening(it["canon"].astype(np.float64)); s = spmask(it, n)
        sil, hi = spec(x, s)
        R.append((po[s].mean() - po[~s].mean(), to[s].mean() - to[~s].mean(), po[s].std(), to[s].std(), po[~s].std(), to[~s].std(), s.mean(), sil, hi, canon.pearson(po, to)))
        if len(its) < 8:
            print("  %s %s speech-sil mean diff pred %.4f true %.4f | std in speech pred %.4f true %.4f | std in sil pred %.4f true %.4f | speech frac %.2f | sil level %.1f dBFS | >4k share %.1f dB | r %.3f" % (it["name"], it["speaker"], *R[-1]))
    a = np.array(R)
    print("  MEDIAN speech-sil mean diff pred %.4f true %.4f | std in speech pred %.4f true %.4f | std in sil pred %.4f true %.4f | speech frac %.2f | sil level %.1f dBFS | >4k share %.1f dB | r %.3f" % tuple(np.median(a, 0)))
    print("  range sil level %.1f..%.1f  >4k %.1f..%.1f" % (a[:, 7].min(), a[:, 7].max(), a[:, 8].min(), a[:, 8].max()))
