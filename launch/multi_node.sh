#!/usr/bin/env bash
# Several nodes with accelerate launch: run this on every node.
#   MAIN_ADDR=10.0.0.1 NODE_RANK=0 NUM_NODES=2 GPUS_PER_NODE=8 launch/multi_node.sh config/models/kobart_base.yaml
set -euo pipefail
CONFIG=${1:?usage: launch/multi_node.sh CONFIG.yaml [section.key=value ...]}; shift
: "${MAIN_ADDR:?set MAIN_ADDR to the address of node 0}" "${NODE_RANK:?set NODE_RANK (0..NUM_NODES-1)}"
NUM_NODES=${NUM_NODES:-2}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
MAIN_PORT=${MAIN_PORT:-29500}
ACCEL_CONFIG=${ACCEL_CONFIG:-accelerate_configs/multi_node.yaml}
exec accelerate launch --config_file "$ACCEL_CONFIG" \
  --num_machines "$NUM_NODES" --num_processes $((NUM_NODES * GPUS_PER_NODE)) \
  --machine_rank "$NODE_RANK" --main_process_ip "$MAIN_ADDR" --main_process_port "$MAIN_PORT" \
  toolkit/train.py --config "$CONFIG" "$@"
