# workbench: `make run` and `make test` install what is missing first.
#
# go-nvml must link lazily, or the binary fails to start on a host without an
# NVIDIA driver; ONNX Runtime and NVML are dlopen'ed at run time.

GO       ?= go
LDFLAGS  := -extldflags=-Wl,-z,lazy
GOFLAGS  := -ldflags='$(LDFLAGS)'
BIN      := ./workbench
DATA     ?= data/synth
IMAGES   ?= 200
export CGO_ENABLED := 1
# go-nvml's nvml.h marks old entry points deprecated, and every cgo file that
# includes it made gcc print hundreds of warnings on a fresh build. They are
# NVIDIA's, not ours: silence that one class, keep Go's default -O2 -g.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: protocol-check all setup setup-run setup-gpu build run test bench memcheck vet fmt clean tui-smoke sweep-check sweep-stability

all: build

## setup: fetch ONNX Runtime (npm) into the user's cache directory, and build
## versitygw (an S3 server) and fake-gcs-server (a GCS server) there, for
## the datasource tests
setup: setup-run
	-@scripts/setup-s3.sh
	-@scripts/setup-gcs.sh

# setup-run is what a run needs (ONNX Runtime, libjpeg-turbo): `make run` on
# a fresh machine does not wait minutes for the test servers' builds.
setup-run:
	@scripts/setup-ort.sh
	-@scripts/setup-turbo.sh

## setup-gpu: fetch the CUDA 13 build of ONNX Runtime 1.29.0 (npm) into the cache, for --device cuda/auto
setup-gpu:
	@scripts/setup-gpu.sh

## build: compile ./workbench
build:
	$(GO) build -buildvcs=auto $(GOFLAGS) -o $(BIN) .

## run: set up, build, make a small synthetic dataset, and race slow against
## optimized: in the TUI on a terminal, headless (same race, printed) otherwise
run: setup-run build
	@[ -d $(DATA) ] || $(BIN) data synth -n $(IMAGES) -o $(DATA) --seed 1
	@if [ -t 0 ] && [ -t 1 ]; then \
		$(BIN) --race --data $(DATA) --model resnet18 --images $(IMAGES); \
	else \
		$(BIN) race slow optimized --data $(DATA) --model resnet18 --images $(IMAGES) --json results.json; \
	fi

## test: set up, vet and run every test under the race detector, except the
## knob matrix (about 500 in-process tiny-model runs over code the other
## tests already run under -race), which runs without it: 5 minutes saved
test: setup
	$(GO) vet ./...
	$(GO) test -race $(GOFLAGS) -timeout 20m -skip '^TestEveryKnobReachesEveryRun$$' ./...
	$(GO) test $(GOFLAGS) -timeout 10m -run '^TestEveryKnobReachesEveryRun$$' .

BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

## tui-smoke: run the TUI in tmux at 160x48 on a tiny-model race and check both panes finish
tui-smoke: setup-run build
	WORKBENCH_BIN=$(abspath $(BIN)) $(GO) test $(GOFLAGS) -run TestTUIInTmux -count=1 -v .

## protocol-check: the measurement protocol's synthetic sweep (20 seeded runs, ties and the true winner); needs a quiet machine
protocol-check:
	WORKBENCH_PROTOCOL_CHECK=1 $(GO) test $(GOFLAGS) -run TestProtocolRanksSyntheticCells -count=1 -v ./bench

## bench: the benchmarks, 5 runs each, summarised by benchstat (median ± spread)
bench: setup
	$(GO) test $(GOFLAGS) -run '^$$' -bench . -benchmem -count 5 -timeout 60m ./... | tee bench.txt
	$(GO) run $(BENCHSTAT) bench.txt

## sweep-check: the literal `workbench sweep --batch 16..256` (resnet18, synthetic
## data) twice, beside `bench ceiling` at the same batch sizes (minutes on 2 cores)
sweep-check: setup-run build
	BIN=$(BIN) DATA=$(DATA) IMAGES=$(IMAGES) scripts/sweep-check.sh

## sweep-stability: the same small sweep (tiny model, synthetic data, batch
## 8..64 × concurrency 1,2) 10 times, each in a fresh process; prints how often
## it picks the same best cell or one tied with it ("N/10"). Minutes on 2
## cores; needs a quiet machine. MODEL=resnet18 for a heavier model
sweep-stability: setup-run build
	$(GO) run $(GOFLAGS) ./scripts/sweepstability -bin $(BIN) -data $(DATA) -images $(IMAGES) -model $(or $(MODEL),tiny)

## memcheck: peak RSS at 2k, 20k and 200k images, 3 runs each in fresh
## processes, with the slope in bytes per image and the ratio: the engine's
## share (synthetic in-memory datasource) and the whole job (tiny model,
## hard-linked JPEGs, 1,000 a directory)
memcheck: setup-run
	$(GO) run $(GOFLAGS) ./scripts/memcheck -sizes 2000,20000,200000 -runs 3

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -f $(BIN) results.parquet bench.txt
