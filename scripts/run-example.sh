#!/usr/bin/env bash
# Quick start, command 1: set up, build, and run the Fashion-MNIST study on
# this machine (an embedded coordinator and two local workers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/bin/vernier run examples/fashion_mnist.yaml --workers 2 "$@"
