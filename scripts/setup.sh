#!/usr/bin/env bash
# Installs everything ctsyncd's tests, lab and benchmarks need on a fresh Debian machine (as root),
# then builds the native netlink addon and the TypeScript. Idempotent: skips what is present.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in ip:iproute2 nft:nftables conntrack:conntrack conntrackd:conntrackd keepalived:keepalived \
            tcpdump:tcpdump iptables:iptables promtool:prometheus systemd-analyze:systemd \
            arping:iputils-arping; do
  bin=${pair%%:*}; pkg=${pair#*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Node's headers come from the running node's own prefix (.npmrc nodedir), never downloaded.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build:native
npm run --silent build
