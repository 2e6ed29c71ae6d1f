#!/usr/bin/env bash
# bench-compare.sh BASE [N]: the engine's overhead and the end-to-end run,
# before (git revision BASE) and after (the working tree), in one session,
# alternating old and new N times so drift hits both alike; benchstat
# compares them. Used for issue 14's "no slowdown" check.
#
#   scripts/bench-compare.sh 4ed736f 6
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: scripts/bench-compare.sh BASE [N]}
n=${2:-6}
flags=(-ldflags='-extldflags=-Wl,-z,lazy')
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/old" "$base" >/dev/null 2>&1

echo "building the engine benchmarks and binaries (old: $base, new: working tree)" >&2
(cd "$work/old" && go test "${flags[@]}" -c -o "$work/pipeline.old" ./pipeline && go build "${flags[@]}" -o "$work/workbench.old" .)
go test "${flags[@]}" -c -o "$work/pipeline.new" ./pipeline
go build "${flags[@]}" -o "$work/workbench.new" .

data="$work/data"
"$work/workbench.new" data synth -n 200 -o "$data" --seed 1 >/dev/null

# e2e prints one Go benchmark line from a run's JSON record: the whole run
# (tiny model, 200 images, batch 32), as a user would run it.
e2e() { # which
	local bin="$work/workbench.$1" rec="$work/rec-$1.json"
	"$bin" run --data "$data" --model tiny --batch 32 --ceiling=false --sample-hz 0 \
		--out "$work/out-$1.parquet" --json "$rec" >/dev/null 2>&1
	python3 - "$rec" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r = r[0] if isinstance(r, list) else r.get("records", [r])[0]
print(f"BenchmarkRunTiny200 1 {r['wall_seconds']*1e9:.0f} ns/op {r['throughput']:.2f} img/s")
PY
}

for i in $(seq "$n"); do
	for which in old new; do
		"$work/pipeline.$which" -test.run '^$' -test.bench 'ExecutorOverhead|EventStream' -test.count 1 >>"$work/$which.txt"
		e2e "$which" >>"$work/$which.txt"
	done
	echo "round $i of $n" >&2
done
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$work/old.txt" "$work/new.txt"
