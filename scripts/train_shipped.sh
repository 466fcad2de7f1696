#!/usr/bin/env bash
# Rerunnable recipe that produced the shipped checkpoints (checkpoints/*.pt + model cards).
#
# Every step resumes: killed training continues from runs/<model>/state.pt, so rerunning this
# script after an interruption picks up where it stopped. On a 2-core CPU the three models train
# in parallel with one thread each (the Expression Generator finishes first).
#
#   CORPUS=data/corpus STEPS_SG=20000 scripts/train_shipped.sh            # train, evaluate, export
#   STAGE=export scripts/train_shipped.sh                                 # only evaluate + export
#
# Under torchrun (more machines/cores), replace `$PY -m midi_ddsp.cli.train` with
#   torchrun --nproc_per_node N -m midi_ddsp.cli.train ...   (DistributedDataParallel, gloo)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CORPUS=${CORPUS:-data/corpus}
RUNS=${RUNS:-runs}
STAGE=${STAGE:-all}
STEPS_SG=${STEPS_SG:-20000}
STEPS_EG=${STEPS_EG:-20000}
STEPS_INF=${STEPS_INF:-20000}
export OMP_NUM_THREADS=1

train() {  # model steps extra-args...
  local model=$1 steps=$2; shift 2
  mkdir -p "$RUNS/$model"
  $PY -m midi_ddsp.cli.train "$model" --data "$CORPUS" --out "$RUNS/$model" --resume \
      --steps "$steps" --num-threads 1 --no-progress "$@" >> "$RUNS/$model/train.log" 2>&1
}

if [[ $STAGE == all || $STAGE == train ]]; then
  train synthesis "$STEPS_SG" --model-config fast --batch-size 16 --crop-frames 500 --save-every 200 &
  train expression "$STEPS_EG" --batch-size 32 --save-every 200 --learning-rate 0.002 &
  train inference "$STEPS_INF" --batch-size 8 --crop-frames 250 --save-every 200 &
  wait
fi

if [[ $STAGE == all || $STAGE == export ]]; then
  $PY -m midi_ddsp.cli.evaluate --data "$CORPUS" --out reports \
      --synthesis-generator "$RUNS/synthesis/model.pt" \
      --expression-generator "$RUNS/expression/best.pt" \
      --ddsp-inference "$RUNS/inference/best.pt" --threads 2 -v
  # the SG ships its last step (its validation loss does not see the vibrato-rate penalty)
  $PY -m midi_ddsp.training.export --run "$RUNS/synthesis" --which model --out checkpoints \
      --metrics reports/metrics.json
  for model in expression inference; do
    $PY -m midi_ddsp.training.export --run "$RUNS/$model" --out checkpoints \
        --metrics reports/metrics.json
  done
fi
