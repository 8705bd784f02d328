#!/usr/bin/env bash
# Run a reference Kafka broker in the foreground: test/tools/kafka-ref/start.sh <dataDir> [port] [options]
# (options: --advertised-port N, --controller-port N, --provision). Ctrl-C / SIGTERM stops it cleanly.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
[[ -x "$NODE" ]] || NODE=node
exec "$NODE" "$HERE/start.ts" "$@"
