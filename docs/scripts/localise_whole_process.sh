#!/usr/bin/env bash
# Whole-process localisation time per image, ours against the Python peer, in one run:
# `deepinside localise --top 1` (paper preset, figures written unless EXTRA_FLAGS say
# otherwise) and peers/localise_peer.py on the first 8 and the first 40 dev images (sorted
# ids, as the peer takes them), alternating, REPS times; per image = (t40 − t8) / 32, so that
# start-up (model load, imports) cancels.
# Usage: docs/scripts/localise_whole_process.sh BIN PEER_PYTHON [DATA] [REPS] [EXTRA_FLAGS...]
set -euo pipefail
bin=$1; py=$2; data=${3:-../shared/data/ilsvrc-dev}; reps=${4:-3}
shift $(( $# < 4 ? $# : 4 ))
peer=$(cd "$data/../.." && pwd)/peers/localise_peer.py
mapfile -t ids < <(cut -d, -f1 "$data/metadata/class_labels.txt" | sort)
out=$(mktemp -d)
now() { date +%s.%N; }
for r in $(seq "$reps"); do
  declare -A t=()
  for n in 8 40; do
    paths=(); for id in "${ids[@]:0:$n}"; do paths+=("$data/$id"); done
    t0=$(now)
    RAYON_NUM_THREADS=2 "$bin" localise --top 1 --out "$out/ours" "$@" "${paths[@]}" >/dev/null
    t[ours$n]=$(echo "$(now) - $t0" | bc)
    t0=$(now)
    "$py" "$peer" "$data" --limit "$n" --out "$out/peer.csv" >/dev/null 2>&1
    t[peer$n]=$(echo "$(now) - $t0" | bc)
  done
  o=$(echo "(${t[ours40]} - ${t[ours8]}) * 1000 / 32" | bc -l)
  p=$(echo "(${t[peer40]} - ${t[peer8]}) * 1000 / 32" | bc -l)
  printf 'run %d: ours %.0f ms/image (8: %.1f s, 40: %.1f s), peer %.0f ms/image (8: %.1f s, 40: %.1f s), ratio %.3f\n' \
    "$r" "$o" "${t[ours8]}" "${t[ours40]}" "$p" "${t[peer8]}" "${t[peer40]}" "$(echo "$o / $p" | bc -l)"
done
rm -rf "$out"
