#!/bin/sh
# The training kit's one command. Usage: training/run.sh [setup|meanface|teacher|data|train|export|eval|test|all]
#   all = setup meanface teacher data train export eval test: remakes models/mean_face.txt and
#   models/audio2landmarks.onnx from nothing (seeded). About 75 min on a 2-core CPU (see docs/model-card.md).
# System packages (Debian 12; mbrola voices need the contrib and non-free sections):
#   apt-get install libdlib-data espeak-ng mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 flite \
#     asterisk-core-sounds-en asterisk-core-sounds-en-g722
# GRID clips: ../shared/data/grid (or TALKINGFACE_GRID=folder).
set -eu
cd "$(dirname "$0")"
PY=.venv/bin/python
STEPS=${STEPS:-3000}
export PYTHONPATH=.
export A2L_TEACHER=${A2L_TEACHER:-fit}
export A2L_VEL=${A2L_VEL:-0}   # temporal-difference loss weight: 0 measured better on GRID (docs/model-card.md)
export A2L_EXTRA=${A2L_EXTRA-../cache/asterisk.pkl}   # relative to a2l/; empty: TTS only

step() {
  case "$1" in
    setup)
      [ -x $PY ] || python3 -m venv .venv
      $PY -m pip install -q -r requirements.txt
      for f in /usr/share/dlib/shape_predictor_68_face_landmarks.dat /usr/share/mbrola/us1/us1 /usr/bin/flite \
               /usr/share/asterisk/sounds/en_US_f_Allison/activated.g722; do
        [ -e "$f" ] || { echo "missing $f: install the system packages listed in training/run.sh" >&2; exit 1; }
      done ;;
    meanface) $PY -m talkingface_kit.grid meanface ;;
    teacher) $PY -m talkingface_kit.visemes | tee cache/visemes.md ;;
    data)
      $PY -m talkingface_kit.asterisk
      (cd a2l && mkdir -p data runs && ../$PY corpus.py 1500 | tee runs/corpus.log) ;;
    train) (cd a2l && A2L_THREADS=${A2L_THREADS:-2} ../$PY train.py "$STEPS" runs/default.pt | tee runs/train_default.log) ;;
    export) (cd a2l && ../$PY export.py runs/default.pt | tee runs/export_default.log) ;;
    eval) $PY -m talkingface_kit.evaluate | tee cache/eval.md ;;
    test) A2L_CHECKPOINT=a2l/runs/default.pt $PY -m pytest -q tests ;;
    all) for s in setup meanface teacher data train export eval test; do step $s; done ;;
    *) echo "unknown step $1" >&2; exit 2 ;;
  esac
}
mkdir -p cache
for s in "${@:-all}"; do step "$s"; done
