#!/usr/bin/env bash
# The one test command (README, .ci/run): set up, type-check, lint, run every test, and end with
# the plain line "N passed, N failed". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

failed_steps=0
echo "== type-check"; npx tsc -p tsconfig.json --noEmit || failed_steps=$((failed_steps + 1))
echo "== lint"; npx biome lint src test bench || failed_steps=$((failed_steps + 1))

echo "== tests"
log=$(mktemp)
npx tap --reporter=tap "$@" 2>&1 | tee "$log"
tap_rc=${PIPESTATUS[0]}
# tap's own closing comment: "# { total: N, pass: N, fail: N, ... }"
summary=$(grep -E '^# \{ total: ' "$log" | tail -1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); pass=${pass:-0}
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary"); fail=${fail:-0}
rm -f "$log"
if [ "$tap_rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
fail=$((fail + failed_steps))
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
