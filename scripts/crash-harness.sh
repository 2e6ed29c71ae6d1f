#!/bin/sh
# The crash harness's long form: workbench run killed with SIGKILL at random
# moments KILLS times (default 200) over IMAGES images (default 600), resumed
# after each, every published output checked against an uninterrupted run.
# make test runs the short form (20 kills, 200 images).
set -eu
cd "$(dirname "$0")/.."
WORKBENCH_CRASH_KILLS="${KILLS:-200}" WORKBENCH_CRASH_IMAGES="${IMAGES:-600}" \
	CGO_ENABLED=1 go test -ldflags='-extldflags=-Wl,-z,lazy' -run '^TestCrashResume$' -count=1 -v -timeout 60m .
