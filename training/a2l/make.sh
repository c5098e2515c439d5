#!/bin/sh
# Remakes the default audio2landmarks model from nothing (seeded): corpus, train, export, evaluate.
# About 8 min corpus + ~16 min training + 1 min export/eval on 2 CPU cores.
set -eu
cd "$(dirname "$0")"
PY=../.venv/bin/python
mkdir -p data runs
$PY corpus.py 1500
A2L_THREADS=1 $PY train.py "${STEPS:-3000}" runs/model.pt | tee runs/train.log
$PY export.py runs/model.pt | tee runs/export.log
$PY evaluate.py | tee runs/eval.md
