"""talkingface_kit.realdata skips bad clips with a reason instead of crashing: a corrupt file, a
silent clip, a clip without a face, an s1 clip without its word alignment. Clips are made with the
ffmpeg of imageio-ffmpeg; one real GRID clip (../shared/data/grid) is used where it exists.

Run: training/.venv/bin/python -m pytest training/tests/test_realdata.py
"""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

KIT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))
from talkingface_kit import canon, grid, realdata  # noqa: E402


class NoFace:
    def process(self, rgb):
        return None


class FixedFace:
    """A fake tracker: a fixed face with a mouth that opens and closes."""
    def __init__(self):
        self.k = 0
        self.base = canon.load_mean_face() * 200 + 50

    def process(self, rgb):
        p = self.base.copy()
        p[[65, 66, 67], 1] += 3 * abs(np.sin(self.k / 5))
        self.k += 1
        return p


def ffmpeg(*args):
    subprocess.run([grid.ffmpeg(), "-v", "error", "-y", *args], check=True)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(realdata, "CACHE", tmp_path)
    return tmp_path


def synth_clip(path, silent=False):
    """3 s, 360x288 MPEG-1 video with MPEG audio (a tone, or digital silence)."""
    tone = "anullsrc=r=44100:cl=mono" if silent else "sine=frequency=220:sample_rate=44100"
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=360x288:r=25:d=3", "-f", "lavfi", "-t", "3", "-i", tone,
           "-c:v", "mpeg1video", "-c:a", "mp2", "-f", "mpeg", str(path))


def test_corrupt_clip(cache, tmp_path):
    bad = tmp_path / "bad.mpg"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="corrupt"):
        realdata.process("s9", "bad", bad, None, FixedFace, canon.load_mean_face())


def test_missing_video(cache, tmp_path):
    with pytest.raises(ValueError, match="missing"):
        realdata.process("s9", "gone", tmp_path / "gone.mpg", None, FixedFace, canon.load_mean_face())


def test_silent_clip(cache, tmp_path):
    p = tmp_path / "silent.mpg"
    synth_clip(p, silent=True)
    with pytest.raises(ValueError, match="silent"):
        realdata.process("s9", "silent", p, None, FixedFace, canon.load_mean_face())


def test_no_face_and_no_alignment(cache, tmp_path):
    p = tmp_path / "tone.mpg"
    synth_clip(p)
    with pytest.raises(ValueError, match="no face"):
        realdata.process("s9", "tone", p, None, NoFace, canon.load_mean_face())
    with pytest.raises(ValueError, match="no alignment"):
        realdata.process("s1", "tone", p, tmp_path / "none.align", FixedFace, canon.load_mean_face())
    # with a face and (for another speaker) no alignment: kept, cached, features of the front end
    d = realdata.process("s9", "tone", p, None, FixedFace, canon.load_mean_face())
    assert d["canon"].shape == (75, 68, 2) and d["features"].shape == (75, 120)
    assert not d["bad"].any()
    assert (cache / "clips" / "s9_tone.npz").exists()


def test_align_and_split():
    words = [("sil", 0.0, 0.95), ("bin", 0.95, 1.18), ("sil", 1.18, 2.98)]
    ph = realdata.word_phones(words)
    assert ph[0][0] == "SIL" and [p for p, _, _ in ph[1:-1]] == ["B", "IH", "N"]
    names = [f"c{i:04d}" for i in range(1000)]
    role = realdata.split(names)
    assert sum(r == "test" for r in role.values()) == 100 and sum(r == "val" for r in role.values()) == 50
    assert role == realdata.split(list(reversed(names)))  # seeded, independent of listing order
