#!/usr/bin/env bash
# ha-lab demo: on a fresh Debian machine, as root. Installs what it needs, builds the project,
# builds the lab, runs live TCP connections through fwA, kills fwA, lets fwB take over (VIPs +
# `ctsyncd promote`: commit of the replicated state under a traffic hold), prints a short report
# and removes everything it created, also when interrupted (Ctrl-C, SIGTERM).
#
#   bash ha-lab/demo.sh [--conns N] [--idle N] [--active-active] [--keepalived] [--ipv6]
#                       [--iptables] [--control] [--no-setup]
#
#   --conns N      live connections (default 200)
#   --idle N       also N idle background flows in fwA's table (synced and committed too)
#   --active-active  fwB forwards N connections of its own too; after the fail-over it carries 2N
#   --keepalived   keepalived (VRRPv3) detects the failure and its notify hook promotes fwB
#                  (default: this script promotes fwB, like keepalived would)
#   --ipv6         the connections use IPv6;  --iptables  firewalls written with iptables-nft
#   --control      also run the negative control (synced but no commit), which must fail
#   --no-setup     skip package installation and scripts/setup.sh
#
# SYNC_DAEMON=ctsyncd (default) or conntrackd (Debian's, the reference) picks the daemon on both
# firewalls; SYNC_DAEMON_A / SYNC_DAEMON_B a mixed pair.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

conns=200 driver=script control=0 setup=1 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) conns=$2; shift ;;
    --keepalived) driver=keepalived ;;
    --ipv6) extra+=(--ipv6) ;;
    --idle) extra+=(--idle "$2"); shift ;;
    --active-active) extra+=(--active-active) ;;
    --iptables) export HL_FW=iptables ;;
    --control) control=1 ;;
    --no-setup) setup=0 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it creates network namespaces)" >&2; exit 1; }
export SYNC_DAEMON=${SYNC_DAEMON:-ctsyncd}
export HL_PREFIX=${HL_PREFIX:-hl}

# Whatever happens from here on, the lab goes away (namespaces, processes by pid file, run dir).
HL_OUT=$(mktemp /tmp/ha-lab-demo.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${fo_pid:-}" ] && kill -0 "$fo_pid" 2>/dev/null; then
    kill -TERM "$fo_pid" 2>/dev/null || true
    wait "$fo_pid" 2>/dev/null || true
  fi
  bash "$HERE/lab.sh" down >/dev/null 2>&1 || true
  rm -f "$HL_OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo.sh: interrupted, cleaning up" >&2; exit 130' INT TERM

if [ "$setup" = 1 ]; then
  need=()
  for pair in ip:iproute2 nft:nftables conntrack:conntrack conntrackd:conntrackd \
              keepalived:keepalived iptables:iptables arping:iputils-arping node:nodejs; do
    bin=${pair%%:*} pkg=${pair#*:}
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    echo "demo: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  echo "demo: building the project (scripts/setup.sh)"
  if ! (cd "$REPO" && bash scripts/setup.sh) >/tmp/ha-lab-setup.$$.log 2>&1; then
    if [ "$SYNC_DAEMON" = ctsyncd ] || [ "${SYNC_DAEMON_A:-}" = ctsyncd ] || [ "${SYNC_DAEMON_B:-}" = ctsyncd ]; then
      tail -20 /tmp/ha-lab-setup.$$.log >&2; rm -f /tmp/ha-lab-setup.$$.log
      echo "demo: scripts/setup.sh failed; ctsyncd cannot run" >&2
      exit 1
    fi
    echo "demo: warning: scripts/setup.sh failed (see above); the conntrackd demo does not need the build" >&2
    tail -5 /tmp/ha-lab-setup.$$.log >&2
  fi
  rm -f /tmp/ha-lab-setup.$$.log
fi

# Prints the human report from failover.sh's RESULT JSON.
report() {
  node -e '
    const r = JSON.parse(process.argv[1]);
    const v = (x, unit = "") => (x === null || x === undefined ? "n/a" : `${x}${unit}`);
    const lost = r.sent - r.echoed;
    const st = r.primarySteps ?? {};
    const primary = r.primaryWay === "promote"
      ? `ctsyncd promote (exit ${v(r.primaryRc)}): hold ${v(st.hold, " ms")}, commit ${v(st.commit, " ms")}` +
        ` (${v(st.committed)} entries), flush external ${v(st["flush-external"], " ms")},` +
        ` resync ${v(st["resync-kernel"], " ms")}, bulk ${v(st.bulk, " ms")}; total ${v(st.promote, " ms")}` +
        ` (${v(r.primaryWallMs, " ms")} wall with the client start-up)`
      : r.primaryWay === "flags"
        ? `client flags (exit ${v(r.primaryRc)}): -c ${v(st.commit, " ms")}, -f ${v(st["flush-internal"] ?? st["flush-all"], " ms")},` +
          ` -R ${v(st["resync-kernel"], " ms")}, -B ${v(st.bulk, " ms")} (each a client process)`
        : "none";
    const lag = r.daemonLag;
    const daemonLag = lag
      ? `\n                      ctsyncd on fwA (event -> ACK from fwB): mean ${lag.meanMs} ms, p50 <= ${v(lag.p50LeMs, " ms")},` +
        ` p99 <= ${v(lag.p99LeMs, " ms")} over ${lag.count} updates; oldest unacked now ${v(r.fwAOldestUnackedMs, " ms")}`
      : "";
    const lines = [
      `  sync daemon:        ${r.daemonA && r.daemonA !== r.daemon ? `fwA ${r.daemonA}, fwB ` : ""}${v(r.daemon)} (${r.mode}), firewall ${r.firewall}, ${r.ipv6 ? "IPv6" : "IPv4"}, failover by ${r.driver}${r.activeActive ? ", active/active" : ""}`,
      `  connections:        ${r.connected} established, ${r.survived} survived on the same socket` +
        ` (${r.resets} reset, ${r.stalled} stalled, ${lost} messages unanswered)`,
      `  outage gap:         max ${v(r.outageMaxMs, " ms")}, median ${v(r.outageP50Ms, " ms")}` +
        " (per surviving connection: last echo before the failure to first echo after)" +
        (r.survived < r.connected ? `\n                      ${r.connected - r.survived} connections never recovered` : ""),
      `  sync lag seen:      ${v(r.syncLagMs, " ms")} (all connections up -> all in fwB external cache, polled)` + daemonLag,
      `  entries committed:  ${v(r.committedEntries)} in fwB kernel table (external cache held ${v(r.externalEntries)})` +
        (r.daemonCommit ? `; daemon: ${r.daemonCommit.committed} committed, ${r.daemonCommit.failed} failed in ${r.daemonCommit.durationMs} ms` : ""),
      ...(r.idleFlows ? [`  idle flows:         ${r.idleFlows} loaded in fwA in ${v(r.idleLoadMs, " ms")}, in fwB external cache after ${v(r.idleSyncMs, " ms")}; fwB kernel total ${v(r.fwBKernelEntries)}`] : []),
      `  commit time:        ${v(r.commitMs, " ms")} (fwA down -> fwB promoted: ${v(r.promoteMs, " ms")})`,
      `  primary branch:     ${primary}`,
      `  verdict:            ${r.pass ? "PASS: every connection survived" : "FAIL: connections were lost"}`,
    ];
    console.log(lines.join("\n"));
  ' "$1"
}

# failover.sh runs in the background and we `wait` for it: a trapped signal interrupts `wait`
# at once (a foreground child would delay the trap until it ends), and the trap stops it by PID.
fo_pid=""
run() { # label, failover.sh args...
  local label=$1 out rc=0 line
  shift
  echo
  echo "== $label"
  bash "$HERE/failover.sh" "$@" >"$HL_OUT" 2> >(grep --line-buffered -E '^\[ha-lab' >&2) &
  fo_pid=$!
  wait "$fo_pid" || rc=$?
  fo_pid=""
  out=$(cat "$HL_OUT")
  line=$(grep '^RESULT ' <<<"$out" | head -1 || true)
  if [ -z "$line" ]; then
    echo "  no result (failover.sh exit $rc)"
    return 2
  fi
  report "${line#RESULT }"
  return "$rc"
}

rc=0
run "failover of $conns live connections from fwA to fwB" \
  --conns "$conns" --interval 100 --after 5 --driver "$driver" "${extra[@]}" || rc=$?
if [ "$control" = 1 ]; then
  crc=0
  run "negative control: same, but fwB does not commit (must FAIL)" \
    --mode nocommit --conns "$conns" --interval 100 --after 4 "${extra[@]}" || crc=$?
  if [ "$crc" = 1 ]; then echo "  control behaved as expected"; else echo "  control did NOT fail: the lab is broken"; rc=1; fi
fi
echo
exit "$rc"
