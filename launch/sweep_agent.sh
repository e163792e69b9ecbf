#!/usr/bin/env bash
# A W&B sweep agent for a GPU node: each trial is one multi-GPU `accelerate launch` run in its
# own process group, every rank reading the same trial parameters; only rank 0 talks to W&B.
#
# usage: launch/sweep_agent.sh [SWEEP.yaml] [more `toolkit sweep` options...]
#   COUNT=20 launch/sweep_agent.sh config/sweep/kobart_sweep.yaml  # create a sweep, run 20 trials
#   SWEEP_ID=team/project/abc123 launch/sweep_agent.sh              # join it from another node
#
# env knobs:
#   SWEEP_ID           join this W&B sweep instead of creating one from SWEEP.yaml
#   COUNT              trials this agent runs (default: until the sweep is done)
#   CONFIG             base config of every trial (default: the --config of the sweep's
#                      `command:`, else config/base_config.yaml)
#   ACCELERATE_CONFIG  accelerate config (default: accelerate_configs/multi_gpu.yaml)
#   PYTHON             interpreter with the toolkit installed (default: .venv/bin/python, python)
set -euo pipefail
cd "$(dirname "$0")/.."

spec="${1:-config/sweep/kobart_sweep.yaml}"
if [[ $# -gt 0 ]]; then shift; fi
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python; fi
fi
accelerate_config="${ACCELERATE_CONFIG:-accelerate_configs/multi_gpu.yaml}"

args=(sweep run "$spec" --backend wandb
      --launch "$python -m accelerate.commands.launch --config_file $accelerate_config --main_process_port {port}")
if [[ -n "${CONFIG:-}" ]]; then args+=(--config "$CONFIG"); fi
if [[ -n "${SWEEP_ID:-}" ]]; then args+=(--sweep-id "$SWEEP_ID"); fi
if [[ -n "${COUNT:-}" ]]; then args+=(--count "$COUNT"); fi

exec "$python" -m toolkit.cli "${args[@]}" "$@"
