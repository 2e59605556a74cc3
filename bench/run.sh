#!/usr/bin/env bash
# Issue 8: ctsyncd vs Debian's conntrackd 1.4.7, same workloads, same run, ratios.
#
#   bash bench/run.sh [--quick|--full] [--daemons conntrackd,ctsyncd] [--sched other|rr99]
#                     [--only burst,nat,steady] [--out FILE.md]
#
# quick: 10k bursts (plain + SNAT/DNAT, commit, resync) and 5k/20k events/s for 10 s (minutes);
# full: 10k/100k/250k bursts and 5k/20k/50k events/s for 30 s (< 1 h).
# --sched: both daemons SCHED_RR 99 (default, conntrackd's own) or SCHED_OTHER; see bench/sync/README.md.
# Needs root (network namespaces). Never part of CI. Results: see bench/RESULTS.md.
# Everything lives in namespaces named bn-<runid>*, deleted at the end, on failure and on Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (network namespaces)" >&2; exit 2; }
BN_RUNID=${BN_RUNID:-$(printf '%03x' $(($$ % 4096)))}
export BN_RUNID
cleanup() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^bn-$BN_RUNID" || true); do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
LOADER=$(node -p "require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only')")
node -r "$LOADER" bench/sync/bench.ts "$@"
