# common.sh — shared by the inspector benchmarks (sourced, not run): hold ~100,000 TCP
# listeners in 5 processes, and time commands in hyperfine rounds of alternating order with
# pooled medians. Expects $portreg, $build, $per_process, $rounds and $work to be set.

bench_holder_pids=()

bench_cleanup() {
  kill "${bench_holder_pids[@]}" 2>/dev/null || true
  rm -rf "$work"
}

# 5 manylisten processes, each per_process listeners on 127.0.3.K ports 20000..; sets total.
bench_start_holders() {
  local k
  for k in 1 2 3 4 5; do
    "$build/manylisten" "127.0.3.$k" 20000 "$per_process" >"$work/hold.$k" &
    bench_holder_pids+=($!)
  done
  for k in 1 2 3 4 5; do
    until grep -q ready "$work/hold.$k"; do sleep 0.1; done
  done
  total=$((per_process * 5))
  echo "== $total listeners held by 5 processes (${bench_holder_pids[*]})"
  "$portreg" lookup 22 >/dev/null 2>&1 || true   # compile the registry index once
}

# COMMAND... : $rounds hyperfine rounds, every other one in reverse order, pooled medians
# written to $work/pooled ("MEDIAN ms<TAB>RUNS runs<TAB>COMMAND") and printed.
bench_pooled() {
  local names=("$@") r i dir
  dir=$(mktemp -d -p "$work")
  for r in $(seq 1 "$rounds"); do
    local order=("${names[@]}")
    if [ $((r % 2)) -eq 0 ]; then
      local reversed=()
      for ((i = ${#order[@]} - 1; i >= 0; i--)); do reversed+=("${order[$i]}"); done
      order=("${reversed[@]}")
    fi
    # -i: `check` and `who` exit 1 for a blocked or free port, which is an answer, not a failure
    hyperfine -N -i --warmup 1 --runs 3 --export-json "$dir/r$r.json" "${order[@]}" >/dev/null 2>&1
  done
  jq -s -r 'def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    [.[].results[]] | group_by(.command)[] | "\(map(.times[]) | median * 1000 | . * 10 | round / 10) ms\t\(length * 3) runs\t\(.[0].command)"' "$dir"/r*.json >"$work/pooled"
  cat "$work/pooled"
}

# The pooled median (ms) of COMMAND from the last bench_pooled.
bench_median_of() { awk -F'\t' -v cmd="$1" '$3 == cmd {print $1+0}' "$work/pooled"; }
