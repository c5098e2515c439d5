#!/bin/sh
# The training kit's one command.
#   training/run.sh [setup|meanface|teacher|data|realdata|warp|train|export|eval|test|all]
#   training/run.sh mouth   (the learned mouth stage of landmarks2face, training/l2f; not in all:
#                            two fine-tunes from the stage of commit 0728b12, about 50 min, each
#                            resumed from its checkpoint when run again)
#   training/run.sh ablate NAME...   (trains, exports and evaluates a variant of docs/model-card.md)
#   training/run.sh person VIDEO [NAME] [options]   (person mode, issue 10: fine-tunes landmarks2face
#                            to one person's video, a file, a folder of clips or a .txt list of clips;
#                            writes ~/.cache/talkingface/person/NAME/; running it again continues;
#                            options: python3 training/l2f/person.py --help)
# all = setup meanface teacher data realdata warp train export lowlatency eval realeval test: remakes
# models/mean_face.txt, models/landmarks2face.onnx (warp: GRID s1's mouth interiors, training/l2f/exemplars.py),
# models/audio2landmarks.onnx and models/audio2landmarks_lowlatency.onnx from
# nothing (seeded). realdata needs the git mirrors of github:osalinasv/lipnet and
# github:AnshSareen/Deep-Learning-Based-Lip-Reading (talkingface_kit/realdata.py says where). Times on a 2-core CPU are in docs/model-card.md.
# setup installs what it needs on Debian 12: the system packages below (enabling the contrib and
# non-free sections for the MBROLA voices; needs root or sudo) and the Python venv (training/.venv,
# torch from PyPI). The GRID clips: ../shared/data/grid (or TALKINGFACE_GRID=folder).
set -eu
CALLER_DIR=$PWD
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
# Real talking faces (issue 9): GRID s1's mouths from `run.sh realdata`, mixed with the teacher's crops.
REALDATA=${TALKINGFACE_CACHE:-$HOME/.cache/talkingface}/realdata/corpus.pkl
export A2L_REAL=${A2L_REAL-$REALDATA}    # empty: teacher targets only (the models before issue 9)
export A2L_REAL_P=${A2L_REAL_P:-0.5}     # share of real crops in a batch
export A2L_VOICE_AUG=${A2L_VOICE_AUG:-1} # VTLP pitch/formant warp and G.711/G.722 codecs
export A2L_NORM=${A2L_NORM:-1}           # per-speaker amplitude normalisation of the targets
export A2L_NORM_STAT=${A2L_NORM_STAT:-voice} # what it matches: voice = the opening's std over whole crops (silences
                                         # included), each teacher voice on its own (r_normvoice); crop = the same for the
                                         # teacher as a whole (stop 14's default, r_normcrop); speech = over speech frames only
export A2L_CORR=${A2L_CORR:-0.1}         # mouth-opening correlation loss weight (r_mse: 0)
export A2L_STD=${A2L_STD:-0.1}           # mouth-opening spread loss weight (r_mse: 0)
LOWLATENCY_LOOKAHEAD=1                   # models/audio2landmarks_lowlatency.onnx

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

# ablate NAME: the variants measured in docs/model-card.md. Those before issue 9 (phone D td wing
# cnngru_wing cnngru la0 la6 ttsonly prior) train on the teacher only, as they did then; the r_* ones
# are the issue-9 recipe (real mouths) with one change each. phone = the shipped recipe; D = the
# previous one (no phoneme head); the others are D with one change. The r_* rows of the model card
# before r_normcrop were measured when the default normalisation was A2L_NORM_STAT=speech (r_normspeech). A2L_DATA=data_v1 (relative to a2l/) trains and evaluates on another
# corpus folder, A2L_SEED on another seed; both go into the run's name.
variant() {
  case "$1" in
    r_*) ;;
    *) export A2L_REAL= A2L_VOICE_AUG=0 A2L_NORM=0 ;;
  esac
  case "$1" in
    r_default) ;;
    r_noreal) export A2L_REAL= ;;
    r_realonly) export A2L_REAL_P=1 ;;
    r_noaug) export A2L_VOICE_AUG=0 ;;
    r_nonorm) export A2L_NORM=0 ;;
    r_normcrop) export A2L_NORM_STAT=crop ;;
    r_normspeech) export A2L_NORM_STAT=speech ;;
    r_normvoice) export A2L_NORM_STAT=voice ;;
    r_mse) export A2L_CORR=0 A2L_STD=0 ;;
    r_corr) export A2L_CORR=0.1 A2L_STD=0 ;;
    r_std) export A2L_CORR=0 A2L_STD=0.1 ;;
    r_corrstd) export A2L_CORR=0.1 A2L_STD=0.1 ;;
    r_td) export A2L_VEL=2 ;;
    r_la1) export A2L_LOOKAHEAD=1 ;;
    r_la0) export A2L_LOOKAHEAD=0 ;;
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
    *) echo "unknown variant $1 (phone D td wing cnngru_wing cnngru la0 la6 ttsonly prior; r_default r_noreal r_realonly r_noaug r_nonorm r_normcrop r_normspeech r_normvoice r_mse r_corr r_std r_corrstd r_td r_la1 r_la0)" >&2; exit 2 ;;
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
    lowlatency)
      # the default's recipe with lookahead 1, and a quarter of its silence output taken off the head's bias
      (cd a2l && A2L_LOOKAHEAD=$LOWLATENCY_LOOKAHEAD A2L_SILENCE_NEUTRAL=1 A2L_SILENCE_SHARE=0.25 ../$PY train.py "$STEPS" runs/lowlatency.pt | tee runs/train_lowlatency.log &&
       A2L_OUT=../../models/audio2landmarks_lowlatency.onnx ../$PY export.py runs/lowlatency.pt | tee runs/export_lowlatency.log) ;;
    realeval) $PY -m talkingface_kit.realeval shipped-before-issue-9=cache/audio2landmarks_before_issue9.onnx \
                default=../models/audio2landmarks.onnx lowlatency=../models/audio2landmarks_lowlatency.onnx | tee cache/realeval.md ;;
    realdata) $PY -m talkingface_kit.realdata | tee cache/realdata.log ;;
    eval) $PY -m talkingface_kit.evaluate | tee cache/eval.md ;;
    warp)    # the default landmarks2face generator (issue 10): the real mouth interior bank, then the graph; needs realdata's cache
      (cd l2f && ../$PY exemplars.py | tee ../cache/exemplars.log) && $PY make_warp_generator.py ;;
    mouth)   # the learned mouth stage (issue 10): models/landmarks2face_mouth.onnx; needs realdata's cache.
      # The shipped file's recipe: the stage of commit 0728b12 (trained 4,327 steps on the warp of
      # then; its checkpoint is gone, its weights are read back from that file), fine-tuned on
      # today's warp (6,277 steps, lr 1e-3), then with the clips' most open frames as references too
      # (4,388 steps, lr 5e-4: the stage learns to close a mouth the portrait shows open).
      # MOUTH_SCRATCH=1: the original recipe instead (from scratch, MOUTH_MINUTES of training).
      MOUTH_HISTORY="4327 steps from scratch on the warp of 0728b12, 6277 fine-tuning on this warp, 4388 more with open references too"
      (cd l2f && ../$PY prepare.py --clips "${MOUTH_CLIPS:-500}" --val 20 --open-refs | tee ../cache/l2f_prepare.log &&
       if [ "${MOUTH_SCRATCH:-0}" = 1 ]; then
         ../$PY train.py --minutes "${MOUTH_MINUTES:-62}" | tee -a ../cache/l2f_train.log &&
         ../$PY export.py | tee ../cache/l2f_export.log
       else
         { [ -f ../cache/landmarks2face_mouth_0728b12.onnx ] ||
             git show 0728b12:models/landmarks2face_mouth.onnx > ../cache/landmarks2face_mouth_0728b12.onnx; } &&
         ../$PY train.py --run ft_warp --init ../cache/landmarks2face_mouth_0728b12.onnx --lr 1e-3 --steps 6277 \
             --minutes 600 | tee -a ../cache/l2f_train.log &&
         ../$PY export.py --ckpt ~/.cache/talkingface/l2f/ft_warp/ckpt.pt --out ../cache/l2f_ft_warp.onnx &&
         ../$PY train.py --run ft_open --init ../cache/l2f_ft_warp.onnx --open-refs --lr 5e-4 --steps 4388 \
             --minutes 600 | tee -a ../cache/l2f_train.log &&
         ../$PY export.py --ckpt ~/.cache/talkingface/l2f/ft_open/ckpt.pt --history "$MOUTH_HISTORY" | tee ../cache/l2f_export.log
       fi &&
       ../$PY evaluate.py --s1 "${MOUTH_EVAL_S1:-10}" | tee ../cache/l2f_eval.log &&
       ../$PY figures.py) ;;
    test) $PY -m pytest -q tests ;;
    all) for s in setup meanface teacher data realdata warp train export lowlatency eval realeval test; do step $s; done ;;
    *) echo "unknown step $1" >&2; exit 2 ;;
  esac
}
mkdir -p cache
# today's model before issue 9, for the comparison in realeval (from git history, commit 3211e97)
[ -f cache/audio2landmarks_before_issue9.onnx ] || git show 3211e97:models/audio2landmarks.onnx > cache/audio2landmarks_before_issue9.onnx 2>/dev/null || true
if [ "${1:-}" = person ]; then
  shift
  if [ $# -lt 1 ]; then
    echo "usage: training/run.sh person VIDEO [NAME] [options]  (VIDEO: a video file, a folder of clips or a .txt list of clips)" >&2
    exit 2
  fi
  v=$1; shift
  case "$v" in /*|~*) ;; *) v="$CALLER_DIR/$v" ;; esac
  cd l2f && exec ../$PY person.py "$v" "$@"
fi
if [ "${1:-}" = ablate ]; then
  shift
  for v in "$@"; do
    (variant "$v"
     t=$v${A2L_DATA:+_$(basename "$A2L_DATA")}${A2L_SEED:+_seed$A2L_SEED}
     cd a2l && mkdir -p runs
     ../$PY train.py "$STEPS" "runs/abl_$t.pt" > "runs/train_abl_$t.log"
     A2L_OUT="runs/abl_$t.onnx" ../$PY export.py "runs/abl_$t.pt" > "runs/export_abl_$t.log"
     cd .. && $PY -m talkingface_kit.evaluate --no-speed "a2l/runs/abl_$t.onnx" > "a2l/runs/eval_abl_$t.md"
     [ -f "$REALDATA" ] && $PY -m talkingface_kit.realeval "$t=a2l/runs/abl_$t.onnx" > "a2l/runs/realeval_abl_$t.md"
     echo "ablation $t: a2l/runs/eval_abl_$t.md")
  done
  exit 0
fi
for s in "${@:-all}"; do step "$s"; done
