#!/usr/bin/env bash
# The recipe that produced the shipped checkpoints (checkpoints/*.pt and their model cards).
#
# Every step resumes: a killed build or training continues from where it stopped (the corpus
# from its manifest, training from runs/<model>/state.pt), so rerun the script after an
# interruption. On a 2-core CPU the whole recipe takes about an hour.
#
#   scripts/train_shipped.sh                  # corpus v2, train, evaluate on audio, export
#   STAGE=export scripts/train_shipped.sh     # only evaluate + export
#
# Shipped now:
# - Expression Generator: trained from scratch on corpus v2 (whole pieces and random runs of
#   notes, phrase features, no absolute-position feature), STEPS_EG steps, best validation loss.
# - Synthesis Generator: the corpus-v1 weights (git show $SG_BASE:checkpoints/synthesis_generator.pt,
#   trained 20000 steps by the recipe of that commit) fine-tuned STEPS_SG steps on corpus v2 with
#   the onset-local attack augmentation and Nyquist-bounded control perturbation.
# - DDSP Inference: unchanged from $SG_BASE (corpus v1), not part of the synthesis pipeline.
#
# Under torchrun (more machines/cores), replace `$PY -m midi_ddsp.cli.train` with
#   torchrun --nproc_per_node N -m midi_ddsp.cli.train ...   (DistributedDataParallel, gloo)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CORPUS=${CORPUS:-data/corpus}
CACHE=${CACHE:-data/cache}
RUNS=${RUNS:-runs}
STAGE=${STAGE:-all}
STEPS_EG=${STEPS_EG:-4000}
STEPS_SG=${STEPS_SG:-6000}
SG_BASE=${SG_BASE:-e01ef53}
export OMP_NUM_THREADS=1

train() {  # model steps extra-args...
  local model=$1 steps=$2; shift 2
  mkdir -p "$RUNS/$model"
  $PY -m midi_ddsp.cli.train "$model" --data "$CORPUS" --out "$RUNS/$model" --resume \
      --steps "$steps" --no-progress "$@" >> "$RUNS/$model/train.log" 2>&1
}

if [[ $STAGE == all || $STAGE == corpus ]]; then
  $PY -m midi_ddsp.cli.build_corpus --out "$CORPUS" --cache "$CACHE" --jobs 2 --no-progress
  $PY -m midi_ddsp.data_pipeline.dataset_card --corpus "$CORPUS" --out data_card
fi

if [[ $STAGE == all || $STAGE == train ]]; then
  mkdir -p "$RUNS"
  [[ -f "$RUNS/sg_base.pt" ]] || git show "$SG_BASE:checkpoints/synthesis_generator.pt" > "$RUNS/sg_base.pt"
  train expression "$STEPS_EG" --batch-size 16 --learning-rate 0.002 --lr-half-life-steps 1500 \
      --save-every 250 --num-threads 1 &
  train synthesis "$STEPS_SG" --init "$RUNS/sg_base.pt" --batch-size 16 --crop-frames 500 \
      --learning-rate 0.0005 --warmup-steps 100 --lr-half-life-steps 3000 --save-every 250 \
      --num-threads 1 &
  wait
fi

if [[ $STAGE == all || $STAGE == export ]]; then
  $PY -m midi_ddsp.training.export --run "$RUNS/expression" --which best --out checkpoints
  $PY -m midi_ddsp.training.export --run "$RUNS/synthesis" --which model --out checkpoints
  # the audio-domain evaluation of exactly these weights, then the cards built from it
  $PY -m midi_ddsp.cli.evaluate --out reports --cache "$CACHE" --data "$CORPUS" --threads 2 -v
  $PY -m midi_ddsp.training.export --run "$RUNS/expression" --which best --out checkpoints \
      --metrics reports/metrics.json --command "$0 (STEPS_EG=$STEPS_EG)"
  $PY -m midi_ddsp.training.export --run "$RUNS/synthesis" --which model --out checkpoints \
      --metrics reports/metrics.json --command "$0 (STEPS_SG=$STEPS_SG, SG_BASE=$SG_BASE)"
fi
