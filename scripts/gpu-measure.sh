#!/usr/bin/env bash
# gpu-measure.sh: the GPU measurements of the GPU-execution issue, in one
# call on a lent GPU machine (see ../shared/gpu/README.md). Stage first:
#
#   make build && ../shared/gpu/stage.sh ./workbench /usr/lib/x86_64-linux-gnu/libturbojpeg.so.0
#
# then, after the staging calls, in the last one or the next:
#
#   . /wb/env.sh && scripts/gpu-measure.sh
#
# Every command's output goes to $OUT (the device tool brings it back); a
# step that fails or runs past STEP_TIMEOUT is recorded and the next runs.
#
# GPU metrics: every --json record carries the run's telemetry (util,
# memory, power, clocks, PCIe, this process's memory, and on Hopper or newer
# the GPM figures: SM activity and occupancy, tensor activity, DRAM
# bandwidth; NVJPG), or says per metric why it is unavailable. The reports
# written next to them put those beside util. While the optimized run runs,
# nvidia-smi dmon samples the same GPU independently (and its GPM metrics
# where the driver has them), so our figures can be checked against NVIDIA's.
set -u
WB=${WB:-/wb/bin/workbench}
OUT=${OUT:-./gpu-out}
IMAGES=${IMAGES:-4000}
STEP_TIMEOUT=${STEP_TIMEOUT:-180}
# DEVICE=cpu MODEL=resnet18 WB=./workbench tries the script here, without a GPU.
DEVICE=${DEVICE:-cuda}
MODEL=${MODEL:-resnet50}
mkdir -p "$OUT"
# libjpeg-turbo travels as an extra file: the GPU machine has no apt.
if [ -z "${WORKBENCH_TURBOJPEG:-}" ] && [ -f /wb/extra/libturbojpeg.so.0 ]; then
	export WORKBENCH_TURBOJPEG=/wb/extra/libturbojpeg.so.0
fi

step() {
	local name=$1; shift
	echo "== $name: $*" | tee -a "$OUT/steps.txt"
	local t0=$SECONDS
	timeout "$STEP_TIMEOUT" "$@" >"$OUT/$name.txt" 2>&1
	local rc=$?
	echo "   rc=$rc in $((SECONDS - t0)) s" | tee -a "$OUT/steps.txt"
	tail -n 25 "$OUT/$name.txt"
}

# dmon NAME ARGS...: nvidia-smi dmon in the background until undmon, one
# line a second with timestamps, into $OUT/dmon-NAME.txt.
DMON_PIDS=()
dmon() {
	local name=$1; shift
	command -v nvidia-smi >/dev/null || return 0
	nvidia-smi dmon -d 1 -o T "$@" >"$OUT/dmon-$name.txt" 2>&1 &
	DMON_PIDS+=($!)
}
undmon() {
	local p
	# (the +alternative keeps set -u quiet on an empty array in old bash)
	for p in ${DMON_PIDS[@]+"${DMON_PIDS[@]}"}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	DMON_PIDS=()
}
trap undmon EXIT

nvidia-smi -L >"$OUT/nvidia-smi.txt" 2>&1
# The architecture decides whether GPM can answer (compute capability 9.0,
# Hopper, or newer).
nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total,power.limit,clocks.max.sm,clocks.max.mem \
	--format=csv >>"$OUT/nvidia-smi.txt" 2>&1
cat "$OUT/nvidia-smi.txt"
step doctor "$WB" doctor --device "$DEVICE"
step synth "$WB" data synth -n "$IMAGES" -o /tmp/wb-synth --seed 1
for m in "$MODEL" "$MODEL-fp16"; do
	for b in 64 128 256; do
		step "ceiling-$m-b$b" "$WB" bench ceiling --device "$DEVICE" --model "$m" --batch "$b" --iters 20 \
			--data /tmp/wb-synth --json "$OUT/ceiling-$m-b$b.json"
	done
done
# pucvmt: power and temperature, util, clocks, violations, memory, PCIe; the GPM
# ids are NVML's: 2 SM activity, 3 SM occupancy, 5 any tensor, 10 DRAM bw.
dmon run-optimized -s pucvmt
dmon run-optimized-gpm --gpm-metrics 2,3,5,10
step run-optimized "$WB" run --device "$DEVICE" --scenario optimized --model "$MODEL" --data /tmp/wb-synth \
	--batch 256 --out /tmp/wb-out.parquet --json "$OUT/run-optimized.json"
undmon
# The record's telemetry as a report: the GPU activity table (means, or
# "unavailable" with the reason) and util, SM activity, tensor and DRAM
# bandwidth over time.
step report-run-optimized "$WB" report "$OUT/run-optimized.json" -o "$OUT/run-optimized.md"
step report-run-optimized-html "$WB" report "$OUT/run-optimized.json" -o "$OUT/run-optimized.html"
# slow loads the model once per batch of 1: keep its image count small.
step race "$WB" race slow optimized --device "$DEVICE" --model "$MODEL" --data /tmp/wb-synth --images 100 \
	--repeat 3 --json "$OUT/race.json"
step sweep "$WB" sweep --device "$DEVICE" --scenario optimized --model "$MODEL" --data /tmp/wb-synth --images 2000 \
	--batch 64..256 --concurrency 1..2 --set tensor_pool=false,true --out "$OUT/sweep.json"
step report-race "$WB" report "$OUT/race.json" -o "$OUT/race.md"
step report-sweep "$WB" report "$OUT/sweep.json" -o "$OUT/sweep.md"
