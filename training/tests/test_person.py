"""training/l2f/person.py (person mode) ends bad input with one clear line and exit status 2, no
traceback: a file that does not decode, no sound track, a silent one, no face, two faces, a video
too short, a missing file, an empty folder. The videos are made here with the ffmpeg of
imageio-ffmpeg from media/portrait.jpg (public domain) and ffmpeg's test sources; nothing needs the
GRID cache. Each case runs in a few seconds.

Run: training/.venv/bin/python -m pytest training/tests/test_person.py
"""
import os
import pathlib
import subprocess
import sys

import pytest

KIT = pathlib.Path(__file__).resolve().parents[1]
ROOT = KIT.parent
PORTRAIT = ROOT / "media" / "portrait.jpg"
sys.path.insert(0, str(KIT))
from talkingface_kit import grid  # noqa: E402

needs = pytest.mark.skipif(not PORTRAIT.exists() or not (ROOT / "models" / "face_detector.onnx").exists(),
                           reason="media/portrait.jpg or the face models missing")


def ff(*args):
    subprocess.run([grid.ffmpeg(), "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


def person(tmp_path, video, *extra):
    env = dict(os.environ, TALKINGFACE_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(KIT))
    r = subprocess.run([sys.executable, str(KIT / "l2f" / "person.py"), str(video), "t", *extra],
                       capture_output=True, text=True, env=env, timeout=300)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def face_video(path, seconds, audio="sine=frequency=220:sample_rate=16000", two=False):
    """media/portrait.jpg as a still video (one face, or two side by side), with the given sound."""
    vf = "scale=256:300,split[a][b];[a][b]hstack" if two else "scale=256:300"
    ff("-loop", "1", "-framerate", "25", "-i", PORTRAIT, "-f", "lavfi", "-i", audio, "-t", seconds,
       "-filter_complex", f"[0:v]{vf},format=yuv420p[v]", "-map", "[v]", "-map", "1:a", "-c:v", "libx264",
       "-preset", "ultrafast", "-c:a", "aac", path)
    return path


def expect(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("person: error:"), r.stderr
    for w in words:
        assert w in line, line


def test_missing_file(tmp_path):
    expect(person(tmp_path, tmp_path / "nothing.mp4"), "no such file")


def test_empty_folder(tmp_path):
    (tmp_path / "clips").mkdir()
    expect(person(tmp_path, tmp_path / "clips"), "without video files")


def test_not_a_video(tmp_path):
    p = tmp_path / "x.mp4"
    p.write_bytes(b"not a video at all" * 500)
    expect(person(tmp_path, p), "does not decode")


@needs
def test_no_sound_track(tmp_path):
    p = tmp_path / "mute.mp4"
    ff("-loop", "1", "-framerate", "25", "-i", PORTRAIT, "-t", 2, "-vf", "scale=256:300,format=yuv420p",
       "-c:v", "libx264", "-preset", "ultrafast", p)
    expect(person(tmp_path, p), "no sound track")


@needs
def test_silent(tmp_path):
    expect(person(tmp_path, face_video(tmp_path / "silent.mp4", 2, "anullsrc=r=16000:cl=mono")), "silent")


def test_no_face(tmp_path):
    p = tmp_path / "pattern.mp4"
    ff("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
       "-t", 2, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", p)
    expect(person(tmp_path, p), "no face")


@needs
def test_two_faces(tmp_path):
    expect(person(tmp_path, face_video(tmp_path / "two.mp4", 2, two=True)), "2 faces in most frames")


@needs
def test_too_short(tmp_path):
    expect(person(tmp_path, face_video(tmp_path / "short.mp4", 3)), "too short", "3.0 s", "60 s")


@needs
def test_list_of_clips(tmp_path):
    """A .txt list of clips (relative to the list's folder): two short clips are still too short
    together, and their seconds add up."""
    face_video(tmp_path / "a.mp4", 2)
    face_video(tmp_path / "b.mp4", 2)
    (tmp_path / "clips.txt").write_text("# two clips\na.mp4\n\nb.mp4\n")
    expect(person(tmp_path, tmp_path / "clips.txt"), "too short", "4.0 s")
