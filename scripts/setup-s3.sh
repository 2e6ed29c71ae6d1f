#!/usr/bin/env bash
# Builds versitygw, a real S3-compatible server (posix backend), from the Go
# module proxy into the user's cache directory, for the datasource tests and
# benchmarks against S3. Built once; a cached binary is reused.
set -euo pipefail
exec "$(dirname "$0")/go-tool.sh" versitygw github.com/versity/versitygw/cmd/versitygw v1.8.0
