#!/bin/bash
#SBATCH --job-name=dmzbench-small
#SBATCH --array=1-8
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=02:00:00
#SBATCH --output=logs/%x-%a.out
# One share of the suite per array task; all tasks share DMZBENCH_HOME and the results folder.
set -euo pipefail
export DMZBENCH_HOME=/shared/dmzbench-home        # checkpoints and feature caches, on the shared filesystem
export DMZBENCH_DATA=/shared/datasets             # Fashion-MNIST, CIFAR-10, CelebA-64, ... (see docs/architecture.md)
export DMZBENCH_OFFLINE=1                         # compute nodes usually cannot download
RESULTS=/shared/dmzbench-results/small
source /shared/venvs/dmzbench/bin/activate        # pip install -e ".[dev]" once, on the login node

dmzbench suite small --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" \
  --results "$RESULTS" --profile h100 --budget 6600 --yes \
  --summary "$RESULTS/../shard-${SLURM_ARRAY_TASK_ID}.json"
