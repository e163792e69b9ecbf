#!/usr/bin/env bash
# DeepSpeed ZeRO through accelerate (batch sizes, accumulation, clipping and precision come
# from the toolkit config: the JSONs in accelerate_configs/deepspeed/ say "auto").
#   STAGE=zero3 launch/deepspeed.sh config/models/kobart_base.yaml
#   HOSTFILE=launch/deepspeed_hostfile.example STAGE=zero3_offload launch/deepspeed.sh CONFIG
set -euo pipefail
CONFIG=${1:?usage: launch/deepspeed.sh CONFIG.yaml [section.key=value ...]}; shift
STAGE=${STAGE:-zero2}
NUM_PROCESSES=${NUM_PROCESSES:-$(python -c "import torch; print(max(1, torch.cuda.device_count()))")}
EXTRA=()
if [[ -n "${HOSTFILE:-}" ]]; then
  EXTRA=(--deepspeed_hostfile "$HOSTFILE" --deepspeed_multinode_launcher pdsh
         --num_machines "$(grep -cv '^\s*#' "$HOSTFILE")")
fi
exec accelerate launch --config_file "accelerate_configs/deepspeed_${STAGE}.yaml" \
  --num_processes "$NUM_PROCESSES" "${EXTRA[@]}" toolkit/train.py --config "$CONFIG" "$@"
