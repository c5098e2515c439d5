"""TTS corpus with exact phone timings (seeded).

Sentences: Faker en_US sentences + GRID-grammar sentences (text only) + short phrases.
Voices (13 renderings of 11 distinct speakers): espeak-ng+MBROLA (us1, us2, en1; us3 held out),
flite (slt, awb, rms, kal16) and festival (kal, ked, rab, slt HTS; don held out). Festival's kal and
slt are the speakers of flite's kal16 and slt through other synthesis methods.
Writes data/corpus_train.pkl and data/corpus_test.pkl (A2L_DATA: another folder): list of dicts
  {text, voice, audio: int16 16 kHz mono, phones: [(symbol, start_s, end_s)], system}.
"""
import os, pickle, random, subprocess, sys, tempfile
from multiprocessing import Pool

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("A2L_DATA", os.path.join(HERE, "data"))
SR = 16000
TRAIN_VOICES = ["mb-us1", "mb-us2", "mb-en1", "fl-slt", "fl-awb", "fl-rms", "fl-kal16",
                "fe-kal", "fe-ked", "fe-rab", "fe-slt"]
TEST_VOICES = ["mb-us3", "fe-don"]
MBROLA = {"mb-us1": "/usr/share/mbrola/us1/us1", "mb-us2": "/usr/share/mbrola/us2/us2",
          "mb-us3": "/usr/share/mbrola/us3/us3", "mb-en1": "/usr/share/mbrola/en1/en1"}
FESTIVAL = {"fe-kal": "kal_diphone", "fe-ked": "ked_diphone", "fe-rab": "rab_diphone",
            "fe-don": "don_diphone", "fe-slt": "cmu_us_slt_arctic_hts"}
# festival's British voices (rab, don) speak the MRPA phone set; -> ARPAbet (the rest are the same letters)
MRPA = {"#": "pau", "@": "AX", "@@": "ER", "a": "AE", "aa": "AA", "ai": "AY", "au": "AW", "e": "EH", "e@": "EH",
        "ei": "EY", "i": "IH", "i@": "IH", "ii": "IY", "o": "AA", "oi": "OY", "oo": "AO", "ou": "OW", "u": "UH",
        "u@": "UH", "uh": "AH", "uu": "UW", "h": "HH"}

GRID = [["bin", "lay", "place", "set"], ["blue", "green", "red", "white"], ["at", "by", "in", "with"],
        list("abcdefghijklmnopqrstuvxyz"),
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
        ["again", "now", "please", "soon"]]


def sentences(n, seed):
    from faker import Faker
    fk = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        u = rng.random()
        if u < 0.15:
            out.append(" ".join(rng.choice(g) for g in GRID))
        elif u < 0.25:
            out.append(fk.sentence(nb_words=rng.randint(2, 4)))
        elif u < 0.35:
            s = fk.sentence(nb_words=rng.randint(4, 10))
            out.append(s[:-1] + "?")
        else:
            out.append(fk.sentence(nb_words=rng.randint(5, 14)))
    return out


def to16k(x, sr):
    if x.ndim > 1:
        x = x.mean(1)
    if sr != SR:
        g = np.gcd(sr, SR)
        x = resample_poly(x, SR // g, sr // g)
    return x


def render(job):
    text, voice, seed = job
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as td:
        wav = os.path.join(td, "o.wav")
        phones = []
        if voice.startswith("mb-"):
            speed, pitch = rng.randint(130, 210), rng.randint(25, 75)
            pho = subprocess.run(["espeak-ng", "-v", voice, "-q", "-s", str(speed), "-p", str(pitch), "--pho", text],
                                 capture_output=True, text=True, check=True).stdout
            t = 0.0
            for line in pho.splitlines():
                f = line.split()
                if not f or f[0].startswith(";"):
                    continue
                d = float(f[1]) / 1000.0
                phones.append((f[0], t, t + d))
                t += d
            p = os.path.join(td, "o.pho")
            open(p, "w").write(pho)
            subprocess.run(["mbrola", "-e", MBROLA[voice], p, wav], capture_output=True, check=True)
        elif voice.startswith("fe-"):
            stretch = rng.uniform(0.8, 1.3)
            segs = os.path.join(td, "o.segs")
            quoted = text.replace("\\", " ").replace('"', " ")
            scm = os.path.join(td, "o.scm")
            open(scm, "w").write(f"(voice_{FESTIVAL[voice]})\n(Parameter.set 'Duration_Stretch {stretch:.3f})\n"
                                 f"(set! u (Utterance Text \"{quoted}\"))\n(utt.synth u)\n"
                                 f"(utt.save.wave u \"{wav}\" 'riff)\n(utt.save.segs u \"{segs}\")\n")
            subprocess.run(["festival", "--batch", scm], capture_output=True, check=True)
            british = voice in ("fe-rab", "fe-don")
            t = 0.0
            for line in open(segs).read().splitlines()[1:]:  # '#' header, then 'end 100 phone'
                f = line.split()
                if len(f) != 3:
                    continue
                e = float(f[0])
                phones.append((MRPA.get(f[2], f[2]) if british else f[2], t, e))
                t = e
        else:
            stretch = rng.uniform(0.8, 1.3)
            f0 = {"fl-slt": 170, "fl-awb": 110, "fl-rms": 100, "fl-kal16": 105}[voice] * rng.uniform(0.85, 1.2)
            out = subprocess.run(["flite", "-voice", voice[3:], "-psdur", "--setf", f"duration_stretch={stretch:.3f}",
                                  "--setf", f"int_f0_target_mean={f0:.1f}", "-t", text, "-o", wav],
                                 capture_output=True, text=True, check=True).stdout
            t = 0.0
            for tok in out.split():
                if ":" not in tok:
                    continue
                ph, e = tok.rsplit(":", 1)
                e = float(e)
                phones.append((ph, t, e))
                t = e
        x, sr = sf.read(wav, dtype="float32")
    x = to16k(x, sr)
    peak = np.abs(x).max() + 1e-9
    x = x / peak * 0.7
    return dict(text=text, voice=voice, audio=(x * 32767).astype(np.int16), phones=phones,
                system=voice[:2])


def main():
    n_train = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    os.makedirs(DATA, exist_ok=True)
    rng = random.Random(1234)
    sents = sentences(n_train + 150, seed=1234)
    jobs = []
    for i, s in enumerate(sents[:n_train]):
        for v in rng.sample(TRAIN_VOICES, 2):
            jobs.append((s, v, rng.randrange(1 << 30)))
    test_jobs = [(s, v, rng.randrange(1 << 30)) for v in TEST_VOICES for s in sents[n_train:]]
    with Pool(2) as pool:
        train = [r for r in pool.imap(render, jobs, chunksize=8)]
        test = [r for r in pool.imap(render, test_jobs, chunksize=8)]
    for name, items in (("train", train), ("test", test)):
        dur = sum(len(r["audio"]) for r in items) / SR
        pickle.dump(items, open(os.path.join(DATA, f"corpus_{name}.pkl"), "wb"))
        print(f"{name}: {len(items)} utterances, {dur / 3600:.2f} h")


if __name__ == "__main__":
    main()
