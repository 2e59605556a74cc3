#!/usr/bin/env bash
# Issue 8 fault campaign: loss 1/10/30 %, peer restart mid-burst, netlink overrun, kernel table
# full during commit, 10 s partition — against conntrackd and ctsyncd side by side.
#
#   bash bench/faults/run.sh [--quick] [--daemons conntrackd,ctsyncd] [--sched other|rr99]
#                            [--only loss,restart,overrun,tablefull,partition] [--out FILE.md]
#
# --sched: both daemons SCHED_RR 99 (default, conntrackd's own) or SCHED_OTHER; see bench/sync/README.md.
# Needs root. Never part of CI. Namespaces bn-<runid>*, deleted at the end, on failure and Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ "$(id -u)" = 0 ] || { echo "bench/faults/run.sh: needs root (network namespaces)" >&2; exit 2; }
BN_RUNID=${BN_RUNID:-$(printf '%03x' $(($$ % 4096)))}
export BN_RUNID
cleanup() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^bn-$BN_RUNID" || true); do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
LOADER=$(node -p "require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only')")
node -r "$LOADER" bench/faults/faults.ts "$@"
