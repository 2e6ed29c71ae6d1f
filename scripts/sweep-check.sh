#!/bin/sh
# sweep-check: run the literal `workbench sweep --batch 16..256` (resnet18,
# the synthetic data) twice and set its ranking beside `bench ceiling` at
# the same batch sizes. The sweep is right when the batch sizes whose
# ceilings tie come out tied (or ranked with the tie stated), and when the
# two sweeps agree. EXTRA adds flags to both sweeps (e.g. EXTRA='--budget 5m').
set -eu
BIN=${BIN:-./workbench}
DATA=${DATA:-data/synth}
IMAGES=${IMAGES:-200}
MODEL=${MODEL:-resnet18}
OUT=${OUT:-sweep-check}
EXTRA=${EXTRA:-}
mkdir -p "$OUT"
[ -d "$DATA" ] || "$BIN" data synth -n "$IMAGES" -o "$DATA" --seed 1
for i in 1 2; do
	echo "== sweep $i: workbench sweep --batch 16..256 --model $MODEL --data $DATA --images $IMAGES $EXTRA"
	# shellcheck disable=SC2086
	"$BIN" sweep --batch 16..256 --model "$MODEL" --data "$DATA" --images "$IMAGES" $EXTRA \
		--out "$OUT/sweep$i.json" 2>"$OUT/sweep$i.log" | tee "$OUT/sweep$i.txt"
done
echo "== ceiling: workbench bench ceiling --batch 16..256 --model $MODEL"
"$BIN" bench ceiling --batch 16..256 --model "$MODEL" 2>"$OUT/ceiling.log" | tee "$OUT/ceiling.txt"
echo "== rankings side by side (rank column; '=' marks a tie with the best)"
for i in 1 2; do
	echo "sweep $i, concurrency=1 line:"
	grep '^batch=[0-9]* concurrency=1 ' "$OUT/sweep$i.txt" | awk '{print "  " $1, $3, $4, $5, "rank", $NF}'
	grep -E '^(tie|  [0-9]\.)' "$OUT/sweep$i.txt" || true
done
