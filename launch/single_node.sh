#!/usr/bin/env bash
# One node, every GPU (DDP), or any accelerate config:
#   ACCEL_CONFIG=accelerate_configs/deepspeed_zero3.yaml launch/single_node.sh config/models/kobart_base.yaml training.learning_rate=3e-5
set -euo pipefail
CONFIG=${1:?usage: launch/single_node.sh CONFIG.yaml [section.key=value ...]}; shift
ACCEL_CONFIG=${ACCEL_CONFIG:-accelerate_configs/multi_gpu.yaml}
NUM_PROCESSES=${NUM_PROCESSES:-$(python -c "import torch; print(max(1, torch.cuda.device_count()))")}
exec accelerate launch --config_file "$ACCEL_CONFIG" --num_processes "$NUM_PROCESSES" \
  toolkit/train.py --config "$CONFIG" "$@"
