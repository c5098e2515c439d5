import sys, pickle, numpy as np, torch
sys.path.insert(0, "a2l")
import common as C
from scipy.signal import butter, sosfilt
from talkingface_kit import canon, realdata
from talkingface_kit.evaluate import Model
from talkingface_kit.realeval import sets
torch.set_num_threads(1)
items = pickle.load(open(realdata.CACHE / "corpus.pkl", "rb"))
S = sets(items)
def dbfs(a):
    x = a.astype(np.float64) / 32767
    return 10 * np.log10(np.mean(x ** 2) + 1e-12)
def act_dbfs(a):  # active level: frames above -50 dB relative to max frame
    x = a.astype(np.float64) / 32767
    fr = x[: x.size // 640 * 640].reshape(-1, 640)
    e = 10 * np.log10((fr ** 2).mean(1) + 1e-12)
    return 10 * np.log10(np.mean(10 ** (e[e > e.max() - 30] / 10)))
def pred(m, x, n, warp=None):
    f = C.torch_features(torch.tensor(x[None]), n + m.d, warp=None if warp is None else torch.tensor([warp]))[0].numpy()
    lm, _, _ = m.run(f, m.zero_state())
    return canon.mouth_opening(lm[m.d:].astype(np.float64))
def pooled(ps, ts):
    return np.sqrt(sum(p.var() for p in ps) / sum(t.var() for t in ts))
for path in sys.argv[1:]:
    m = Model(path)
    print("##", path)
    for name, its in S:
        print("#", name)
        ps, ts = [], []
        rows = []
        for it in its:
            n = len(it["canon"]); x = it["audio"].astype(np.float64) / 32767
            po = pred(m, x, n); to = canon.mouth_opening(it["canon"].astype(np.float64))
            ps.append(po); ts.append(to)
            rows.append((it["name"] if "name" in it else "", it["speaker"], po.std(), to.std(), po.std() / to.std(), canon.pearson(po, to), dbfs(it["audio"]), act_dbfs(it["audio"])))
        if len(its) <= 8:
            for r in rows: print("  %s %s pred_std %.4f true_std %.4f ratio %.2f r %.3f rms %.1f dBFS active %.1f" % r)
        else:
            a = np.array([r[2:] for r in rows])
            print("  median pred_std %.4f true_std %.4f ratio %.2f r %.3f rms %.1f active %.1f (range active %.1f..%.1f)" % (*np.median(a, 0), a[:, 5].min(), a[:, 5].max()))
        print("  pooled art %.3f  | pred pooled std %.4f true pooled std %.4f  | median ratio %.2f" % (pooled(ps, ts), np.sqrt(np.mean([p.var() for p in ps])), np.sqrt(np.mean([t.var() for t in ts])), np.median([r[4] for r in rows])))
        if len(its) == 4:
            for k in range(4):
                sub = [j for j in range(4) if j != k]
                print("   without %s: pooled art %.3f" % (its[k]["speaker"], pooled([ps[j] for j in sub], [ts[j] for j in sub])))
    # perturbations on s1 test
    name, its = S[0]
    its = its[::2]
    def run_pert(fn, warp=None):
        ps, ts, rs = [], [], []
        for it in its:
            n = len(it["canon"]); x = fn(it["audio"].astype(np.float64) / 32767)
            po = pred(m, x, n, warp); to = canon.mouth_opening(it["canon"].astype(np.float64))
            ps.append(po); ts.append(to); rs.append(canon.pearson(po, to))
        return pooled(ps, ts), np.mean(rs)
    lp = lambda fc: (lambda x: sosfilt(butter(4, fc, btype="low", fs=16000, output="sos"), x))
    tel = lambda x: sosfilt(butter(4, [300, 3400], btype="band", fs=16000, output="sos"), x)
    perts = [("clean", lambda x: x, None)] + [(f"gain {g:+d} dB", (lambda g: lambda x: np.clip(x * 10 ** (g / 20), -1, 1))(g), None) for g in (-24, -12, -6, 6, 12)]
    perts += [(f"vtlp {w}", lambda x: x, w) for w in (0.85, 0.92, 1.08, 1.18)]
    perts += [("lowpass 4k", lp(4000), None), ("lowpass 3k", lp(3000), None), ("telephone", tel, None)]
    print("# s1 held-out (every 2nd), perturbed input: pooled articulation, r")
    for nm, fn, w in perts:
        a, r = run_pert(fn, w)
        print("  %-14s art %.3f r %.3f" % (nm, a, r))
