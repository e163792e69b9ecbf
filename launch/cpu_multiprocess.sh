#!/usr/bin/env bash
# Several CPU processes (gloo): for testing distributed code paths without a GPU.
#   NPROC=2 launch/cpu_multiprocess.sh config/base_config.yaml training.per_device_train_batch_size=8
set -euo pipefail
CONFIG=${1:?usage: launch/cpu_multiprocess.sh CONFIG.yaml [section.key=value ...]}; shift
NPROC=${NPROC:-2}
ACCELERATE_USE_CPU=true exec torchrun --nproc_per_node "$NPROC" --master_port "${PORT:-29511}" \
  toolkit/train.py --config "$CONFIG" "$@"
