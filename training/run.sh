#!/bin/sh
# The training kit's one command.
#   training/run.sh [setup|meanface|teacher|data|train|export|eval|test|all]
#   training/run.sh ablate NAME...   (trains, exports and evaluates a variant of docs/model-card.md)
# all = setup meanface teacher data train export eval test: remakes models/mean_face.txt and
# models/audio2landmarks.onnx from nothing (seeded). Times on a 2-core CPU are in docs/model-card.md.
# setup installs what it needs on Debian 12: the system packages below (enabling the contrib and
# non-free sections for the MBROLA voices; needs root or sudo) and the Python venv (training/.venv,
# torch from PyPI). The GRID clips: ../shared/data/grid (or TALKINGFACE_GRID=folder).
set -eu
cd "$(dirname "$0")"
PY=.venv/bin/python
STEPS=${STEPS:-3000}
SENTENCES=${SENTENCES:-3000}
export PYTHONPATH=.
# The shipped recipe (docs/model-card.md says why each is set so).
export A2L_TEACHER=${A2L_TEACHER:-fit}   # teacher geometry fitted to GRID mouths
export A2L_VEL=${A2L_VEL:-0}             # temporal-difference loss weight: 0 measured better on GRID
export A2L_EXTRA=${A2L_EXTRA-../cache/asterisk.pkl}   # real speech (relative to a2l/); empty: TTS only
export A2L_ARCH=${A2L_ARCH:-lstm}        # lstm (Eskimez) | cnngru (Wang)
export A2L_LOSS=${A2L_LOSS:-mse}         # mse | wing
export A2L_PHONE=${A2L_PHONE:-0.02}      # auxiliary phoneme head weight (0 = none): raised GRID r
export A2L_LOOKAHEAD=${A2L_LOOKAHEAD:-3} # frames
export A2L_THREADS=${A2L_THREADS:-1}     # one thread: the shipped file was trained so (bit-reproducible)

PKGS="libdlib-data espeak-ng mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 flite festival festlex-cmu
festlex-oald festvox-kallpc16k festvox-kdlpc16k festvox-rablpc16k festvox-don festvox-us-slt-hts
asterisk-core-sounds-en asterisk-core-sounds-en-g722 python3-venv"

system_packages() {
  missing=""
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f $src ] && ! grep -q "non-free" $src; then   # MBROLA voices live in contrib and non-free
    echo "setup: enabling the contrib and non-free sections in $src"
    $SUDO sed -i 's/^Components: main$/Components: main contrib non-free/' $src
  fi
  echo "setup: installing Debian packages:$missing"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# ablate NAME: the variants measured in docs/model-card.md. phone = the shipped recipe; D = the
# previous one (no phoneme head); the others are D with one change. A2L_DATA=data_v1 (relative to a2l/) trains and evaluates on another
# corpus folder, A2L_SEED on another seed; both go into the run's name.
variant() {
  case "$1" in
    phone) export A2L_PHONE=0.02 ;;
    D) export A2L_PHONE=0 ;;
    td) export A2L_PHONE=0 A2L_VEL=2 ;;
    wing) export A2L_PHONE=0 A2L_VEL=2 A2L_LOSS=wing ;;
    cnngru_wing) export A2L_PHONE=0 A2L_ARCH=cnngru A2L_LOSS=wing ;;
    cnngru) export A2L_PHONE=0 A2L_ARCH=cnngru ;;
    la0) export A2L_PHONE=0 A2L_LOOKAHEAD=0 ;;
    la6) export A2L_PHONE=0 A2L_LOOKAHEAD=6 ;;
    ttsonly) export A2L_PHONE=0 A2L_EXTRA= ;;
    prior) export A2L_PHONE=0 A2L_TEACHER=prior A2L_VEL=2 A2L_EXTRA= ;;
    *) echo "unknown variant $1 (phone D td wing cnngru_wing cnngru la0 la6 ttsonly prior)" >&2; exit 2 ;;
  esac
}

step() {
  case "$1" in
    setup)
      system_packages
      [ -x $PY ] || python3 -m venv .venv
      $PY -m pip install -q -r requirements.txt ;;
    meanface) $PY -m talkingface_kit.grid meanface ;;
    teacher) $PY -m talkingface_kit.visemes | tee cache/visemes.md ;;
    data)
      $PY -m talkingface_kit.asterisk
      (cd a2l && mkdir -p data runs && ../$PY corpus.py "$SENTENCES" | tee runs/corpus.log) ;;
    train) (cd a2l && mkdir -p runs && ../$PY train.py "$STEPS" runs/default.pt | tee runs/train_default.log) ;;
    export) (cd a2l && ../$PY export.py runs/default.pt | tee runs/export_default.log) ;;
    realdata) $PY -m talkingface_kit.realdata | tee cache/realdata.log ;;
    eval) $PY -m talkingface_kit.evaluate | tee cache/eval.md ;;
    test) A2L_CHECKPOINT=a2l/runs/default.pt $PY -m pytest -q tests ;;
    all) for s in setup meanface teacher data train export eval test; do step $s; done ;;
    *) echo "unknown step $1" >&2; exit 2 ;;
  esac
}
mkdir -p cache
if [ "${1:-}" = ablate ]; then
  shift
  for v in "$@"; do
    (variant "$v"
     t=$v${A2L_DATA:+_$(basename "$A2L_DATA")}${A2L_SEED:+_seed$A2L_SEED}
     cd a2l && mkdir -p runs
     ../$PY train.py "$STEPS" "runs/abl_$t.pt" > "runs/train_abl_$t.log"
     A2L_OUT="runs/abl_$t.onnx" ../$PY export.py "runs/abl_$t.pt" > "runs/export_abl_$t.log"
     cd .. && $PY -m talkingface_kit.evaluate --no-speed "a2l/runs/abl_$t.onnx" > "a2l/runs/eval_abl_$t.md"
     echo "ablation $t: a2l/runs/eval_abl_$t.md")
  done
  exit 0
fi
for s in "${@:-all}"; do step "$s"; done
