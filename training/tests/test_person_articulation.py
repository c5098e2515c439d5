"""person.py's articulation(): the expressiveness of audio2landmarks that matches a person's mouth
opening spread. A "person" whose mouth is the default speech model's own prediction on
media/speech_sample.ogg (CC0), scaled about the mean face, must give that scale back; clipped to
EXPRESSIVENESS_RANGE; None without sound.

Run: training/.venv/bin/python -m pytest training/tests/test_person_articulation.py
"""
import pathlib
import sys

import numpy as np
import pytest

KIT = pathlib.Path(__file__).resolve().parents[1]
ROOT = KIT.parent
sys.path.insert(0, str(KIT))
sys.path.insert(0, str(KIT / "l2f"))
import person as P  # noqa: E402
from talkingface_kit import canon  # noqa: E402
from talkingface_kit.evaluate import Model  # noqa: E402

SPEECH = ROOT / "media" / "speech_sample.ogg"
needs = pytest.mark.skipif(not SPEECH.exists() or not P.A2L.exists(), reason="media or the speech model missing")


def person_like(scale):
    audio = P.sound_track(SPEECH)
    n = len(audio) // 640
    lm, _ = Model(P.A2L)(audio.astype(np.float32), n)
    mf = canon.load_mean_face()
    raw = mf + scale * (lm.astype(np.float64) - mf)
    return [(SPEECH, {"raw": raw.astype(np.float32), "bad": np.zeros(n, bool)})]


@needs
@pytest.mark.parametrize("scale", [0.7, 1.0, 1.6])
def test_gives_the_scale_back(scale):
    g, true, pred = P.articulation(person_like(scale))
    assert abs(g - scale) < 0.05 * scale, (g, true, pred)


@needs
def test_clipped_and_none_without_sound(tmp_path):
    assert P.articulation(person_like(0.2))[0] == P.EXPRESSIVENESS_RANGE[0]
    silent = tmp_path / "x.txt"
    silent.write_text("not a video")
    assert P.articulation([(silent, {"raw": np.zeros((50, 68, 2), np.float32), "bad": np.zeros(50, bool)})]) is None
