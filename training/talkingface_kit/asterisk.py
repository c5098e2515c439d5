"""Real human speech with phone timings: the Asterisk core prompts (Debian asterisk-core-sounds-en-g722,
one US English female speaker, CC-BY-SA-3.0) force-aligned to their transcripts (asterisk-core-sounds-en)
with pocketsphinx.

python -m talkingface_kit.asterisk     # writes cache/asterisk.pkl

Items: {name, text, audio int16 16 kHz, phones [(ARPAbet or SIL, start s, end s)], voice 'asterisk-allison'}.
Prompts with bracketed descriptions, words outside the pocketsphinx dictionary, or failed alignments
are skipped.
"""
from __future__ import annotations

import gzip
import os
import pathlib
import pickle
import re
import sys
from multiprocessing import Pool

import numpy as np

KIT = pathlib.Path(__file__).resolve().parents[1]
OUT = KIT / "cache" / "asterisk.pkl"
SOUNDS = pathlib.Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TRANSCRIPTS = pathlib.Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
       "sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def is_test(name: str) -> bool:
    """Held-out Asterisk prompts: a fixed fifth by name hash; training may only use the rest."""
    import zlib
    return zlib.crc32(name.encode()) % 5 == 0


def number_words(n: int) -> str:
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    return " ".join(ONES[int(c)] for c in str(n))


def dictionary():
    from pocketsphinx import get_model_path
    words = set()
    with open(os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")) as f:
        for line in f:
            words.add(line.split(" ", 1)[0].split("(")[0])
    return words


def normalise(text: str, words) -> str | None:
    if "[" in text or "<" in text:
        return None
    t = re.sub(r"(\d+)", lambda m: " " + number_words(int(m.group(1))) + " ", text.lower())
    t = t.replace("&", " and ").replace("-", " ").replace("#", " pound ")
    t = re.sub(r"[^a-z' ]", " ", t)
    toks = t.split()
    if not toks or any(w not in words for w in toks):
        return None
    return " ".join(toks)


def prompts():
    words = dictionary()
    out = []
    for line in gzip.open(TRANSCRIPTS, "rt", errors="replace"):
        if ":" not in line or line.startswith(";"):
            continue
        name, text = line.split(":", 1)
        name = name.strip()
        path = SOUNDS / f"{name}.g722"
        if not path.exists():
            continue
        t = normalise(text.strip(), words)
        if t:
            out.append((name, t))
    return out


def align(job):
    name, text = job
    import G722
    from pocketsphinx import Decoder
    pcm = np.asarray(G722.G722(16000, 64000).decode((SOUNDS / f"{name}.g722").read_bytes()), dtype=np.int16)
    try:
        dec = Decoder(samprate=16000, bestpath=False, loglevel="FATAL")
        dec.set_align_text(text)
        raw = pcm.tobytes()
        dec.start_utt(); dec.process_raw(raw, full_utt=True); dec.end_utt()
        dec.set_alignment()
        dec.start_utt(); dec.process_raw(raw, full_utt=True); dec.end_utt()
        phones = [(p.name, p.start / 100.0, (p.start + p.duration) / 100.0)
                  for w in dec.get_alignment() for p in w]
    except Exception:
        return None
    if not any(p[0] != "SIL" for p in phones):
        return None
    return {"name": name, "text": text, "audio": pcm, "phones": phones, "voice": "asterisk-allison",
            "system": "human"}


def main():
    jobs = prompts()
    with Pool(int(os.environ.get("TF_PROCS", "2"))) as pool:
        items = [r for r in pool.map(align, jobs, chunksize=4) if r is not None]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    pickle.dump(items, open(OUT, "wb"))
    dur = sum(len(i["audio"]) for i in items) / 16000
    print(f"{len(items)} of {len(jobs)} transcribed prompts aligned, {dur / 60:.1f} min -> {OUT}")


if __name__ == "__main__":
    main()
