#!/usr/bin/env bash
# Submits `deepinside eval` over a dataset as a Slurm job array, one array task per shard,
# and a merge job that runs once every shard has succeeded (docs/cluster.md).
#
#   docs/cluster/slurm-submit.sh SHARDS DATA OUT [eval options...]
#
# DEEPINSIDE names the binary (default: `deepinside` on the PATH of the compute nodes);
# DATA and OUT must be on storage that every node sees. Extra options go to every shard
# (e.g. --preset best --limit 1000). Prints the two job ids. Any sbatch option can be added
# through SBATCH_* variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...).
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
shards=$1 data=$2 out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/logs"
export DEEPINSIDE_DATA=$data DEEPINSIDE_OUT=$out DEEPINSIDE_EVAL_ARGS="$*"
export DEEPINSIDE=${DEEPINSIDE:-deepinside}
array=$(sbatch --parsable --array="1-$shards" --output="$out/logs/shard-%a.log" \
  --export=ALL "$here/slurm-shard.sbatch")
merge=$(sbatch --parsable --dependency="afterok:$array" --output="$out/logs/merge.log" \
  --export=ALL "$here/slurm-merge.sbatch")
echo "shards: job $array (array 1-$shards); merge: job $merge"
