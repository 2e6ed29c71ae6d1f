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

nvidia-smi -L >"$OUT/nvidia-smi.txt" 2>&1
cat "$OUT/nvidia-smi.txt"
step doctor "$WB" doctor --device "$DEVICE"
step synth "$WB" data synth -n "$IMAGES" -o /tmp/wb-synth --seed 1
for m in "$MODEL" "$MODEL-fp16"; do
	for b in 64 128 256; do
		step "ceiling-$m-b$b" "$WB" bench ceiling --device "$DEVICE" --model "$m" --batch "$b" --iters 20 \
			--data /tmp/wb-synth --json "$OUT/ceiling-$m-b$b.json"
	done
done
step run-optimized "$WB" run --device "$DEVICE" --scenario optimized --model "$MODEL" --data /tmp/wb-synth \
	--batch 256 --out /tmp/wb-out.parquet --json "$OUT/run-optimized.json"
# slow loads the model once per batch of 1: keep its image count small.
step race "$WB" race slow optimized --device "$DEVICE" --model "$MODEL" --data /tmp/wb-synth --images 100 \
	--repeat 3 --json "$OUT/race.json"
step sweep "$WB" sweep --device "$DEVICE" --scenario optimized --model "$MODEL" --data /tmp/wb-synth --images 2000 \
	--batch 64..256 --concurrency 1..2 --set tensor_pool=false,true --out "$OUT/sweep.json"
