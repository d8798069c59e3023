#!/usr/bin/env bash
# Weft against a real Synapse (docs/interop.md), in one command: the Synapse chroot
# installed if missing (scripts/synapse-peer.sh install: ~5.5 min the first time,
# 0.1 s after), then the interop tests, one file at a time (each starts its own
# Weft and Synapse; two at once on a 2-core machine would only slow both).
#
#   scripts/interop.sh [TEST_FILE...]     default: every interop/*.test.ts
#
# Environment: WEFT_SYNAPSE_ROOT (the chroot), WEFT_INTEROP_OUTAGE_S (scenario 3's
# outage, default 60), WEFT_INTEROP_HISTORY (scenario 5's messages, default 500),
# WEFT_TEST_DATABASE=postgres with WEFT_TEST_POSTGRES_URL (Weft on PostgreSQL).
# A failing scenario keeps its folder (both servers' logs) and prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || {
  echo "interop: must run as root (the Synapse peer uses chroot and mount namespaces)" >&2
  exit 1
}
started=$SECONDS
scripts/synapse-peer.sh install
echo "interop: Synapse install (or its check) $((SECONDS - started)) s" >&2
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(interop/*.test.ts)
status=0
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}" || status=$?
echo "interop: $((SECONDS - started)) s in all" >&2
exit "$status"
