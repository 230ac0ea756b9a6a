#!/usr/bin/env bash
# The GPU measurements of bench/RESULTS.md, as one script for a machine with CUDA and no internet.
# Expects .gpu/whl (wheels of prefect and what it needs, for the machine's Python) and .gpu/shared (the
# parts of ../shared the benchmarks read). Writes logs to ${OUT:-/tmp/gpu-out}.
# Arguments: the sections to run (default: score train flow).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-out}; mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PREFECT_HOME=/tmp/prefect-home HF_HUB_OFFLINE=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false TQDM_DISABLE=1
[ -e ../shared ] || ln -s "$PWD/.gpu/shared" ../shared
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, transformers, prefect; print(torch.__version__, transformers.__version__, prefect.__version__)"

sections=${*:-score train flow}
if [[ $sections == *score* ]]; then
echo "== scoring: seed (1 text/call) vs HF pipeline vs ours, bert-base shape, 1200 ChnSentiCorp test texts"
python3 -m bench.score_bench --model bert-base --device cuda --precision bf16 2>&1 | grep -v Warning | tee "$out/score.txt"

fi
if [[ $sections == *train* ]]; then
echo "== training: seed train_loop (fp32) vs ours, bert-base shape, 3000 rows, batch 32"
for p in ${TRAIN_PRECISIONS:-fp32 bf16}; do
  python3 -m bench.train_bench --model bert-base --device cuda --precision $p --rows 3000 --dev_rows 400 \
      --batch_size 32 --lr 2e-5 2>&1 | grep -vi "warn\|it/s\]" | tail -7 | tee "$out/train_$p.txt"
done

fi
if [[ $sections == *flow* ]]; then
echo "== the whole flow on ChnSentiCorp, bert-base shape: in-process vs torchrun with one process"
python3 -m bench.random_checkpoint /tmp/bert-random
data=../shared/data/chnsenticorp
for mode in ${FLOW_MODES:-inprocess torchrun}; do
  flag=""; [ $mode = torchrun ] && flag="--torchrun"
  /usr/bin/time -f "$mode wall %e s" python3 flows/train_flow.py --model_checkpoint /tmp/bert-random \
      --train_file $data/train.jsonl --dev_file $data/dev.jsonl --test_file $data/test.jsonl \
      --num_train_epochs 2 --batch_size 32 --max_seq_length 256 --learning_rate 2e-5 --no_baseline \
      --output_dir /tmp/art-$mode --data_dir /tmp/data $flag > "$out/flow_$mode.log" 2>&1
  tail -2 "$out/flow_$mode.log"
  python3 -m bench.run_throughput /tmp/art-$mode/runs/* | tee -a "$out/throughput.txt"
done
fi
