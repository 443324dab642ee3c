#!/usr/bin/env bash
# The GPU window (device tool, one call): v2.2 and the large-model study train side by side
# on one H200 for max_minutes each, then come back as tar parts under $OUT.
#   prepare here:  python scripts/gpu_window/pack.py  (+ the wheels in .gpu/whl, see
#                  docs/MODEL_CARD.md), then run with carry [".gpu"]
#   rehearse here: MINUTES=0.3 OUT=/tmp/out bash scripts/gpu_window/run.sh
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT}
MINUTES=${MINUTES:-}
if [ -d .gpu/whl ] && ! python3 -c "import miditok" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
tokens=data/music21/tokens/REMI-harmony-infill
[ -f $tokens/index.json ] || python3 scripts/gpu_window/unpack.py .gpu/data $tokens || exit 4
[ -f runs/v2_1/model/model.safetensors ] || { mkdir -p runs/v2_1 && cp -r src/tunesmith/checkpoints/default runs/v2_1/model; }
(nvidia-smi --query-gpu=name,memory.total --format=csv; python3 -c "import torch; print(torch.__version__)") > $OUT/env.txt 2>&1
python3 -c "import tunesmith.training.trainer" || exit 5
# RUNS: "config:run_dir ..." trained side by side (default: the first window's two runs)
RUNS=${RUNS:-"configs/v2_2.yaml:runs/v2_2 configs/study/large.yaml:runs/large"}
INIT=${INIT:-}  # "run_dir=model_dir": a model a config's init_from names, copied in place
if [ -n "$INIT" ]; then rm -rf "${INIT%%=*}/model" && mkdir -p "${INIT%%=*}" && cp -r "${INIT#*=}" "${INIT%%=*}/model"; fi
dirs=()
for pair in $RUNS; do
  cfg=${pair%%:*}; dir=${pair#*:}; dirs+=("$dir"); rm -rf "$dir"
  # a hard stop well inside the call's limit; the trainers export at every best validation
  timeout -s INT "${HARD_STOP:-480}" python3 scripts/gpu_window/train.py "$cfg" "$dir" $MINUTES > "$OUT/$(basename "$dir").log" 2>&1 &
done
wait
python3 scripts/gpu_window/collect.py $OUT "${dirs[@]}" --half large
