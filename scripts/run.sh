#!/usr/bin/env bash
# Runs the hub on its embedded SQLite default (http://127.0.0.1:8080), after installing the C
# libraries it links if they are missing. Arguments go to the hub: scripts/run.sh --help
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/build-deps.sh"
cd "$here"
exec cargo run --release -q -p hub -- "$@"
