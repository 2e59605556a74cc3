#!/usr/bin/env bash
# Burst sync benchmark (bench/burst/burst.ts): n flows created on fwA, time until fwB has them.
#   bash bench/burst/run.sh [--n=100000] [--daemon=ctsyncd|conntrackd] [--timeout-s=120] [--sched=other|rr99] [--commit] [--prof=DIR]
# Needs root and `npm run build` (the daemon runs from dist/). Namespaces bn-<id>u-*, deleted at exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ "$(id -u)" = 0 ] || { echo "bench/burst/run.sh: needs root (network namespaces)" >&2; exit 2; }
BN_RUNID=${BN_RUNID:-$(printf '%03x' $(($$ % 4096)))}
export BN_RUNID
cleanup() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^bn-${BN_RUNID}u" || true); do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
LOADER=$(node -p "require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only')")
node -r "$LOADER" bench/burst/burst.ts "$@"
