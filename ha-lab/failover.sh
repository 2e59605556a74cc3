#!/usr/bin/env bash
# One fail-over experiment on a fresh lab; prints one JSON line (prefixed RESULT) and exits 0 when
# every connection survived on the same socket, 1 when some did not, 2 on a harness error.
#
#   failover.sh [--conns N] [--interval MS] [--after S] [--mode sync|nosync|nocommit]
#               [--driver script|keepalived] [--ipv6] [--idle N] [--active-active] [--keep]
#               [--report FILE]
#
#   --mode sync      sync daemon on both firewalls, fwB commits on take-over (expected: pass)
#          nosync    no sync daemon at all                         (negative control: must fail)
#          nocommit  daemon on both, fwB takes the VIPs, no commit  (negative control: must fail)
#   --driver script      this script moves the VIPs and runs the primary branch of the notify hook
#                        (keepalived/notify.sh) on fwB, as keepalived would
#            keepalived  keepalived (VRRPv3) on both; its notify hook runs the primary branch
#   Primary branch: ctsyncd on fwB: `ctsyncd promote` (hold, commit, release, flush, resync, bulk);
#   conntrackd on fwB (or HL_PRIMARY=flags): -c, -f internal, -R, -B. Backup branch (fwB at the
#   start): ctsyncd: -t, `ctsyncd demote`; conntrackd: -t, -n.
#   --idle N         first load N idle ESTABLISHED TCP entries into fwA's kernel table
#                    (conntrack -R in fwA), so the sync and the commit carry a realistic table
#   --active-active  fwB forwards its own connections too (second VIP set, second client address,
#                    N more connections); fwA's connections move to fwB; all must survive
#   --keep           leave the lab up afterwards (default: torn down, also on error/interrupt)
#
# Environment: SYNC_DAEMON (ctsyncd|conntrackd; SYNC_DAEMON_A/_B for a mixed pair), HL_PREFIX,
# HL_FW (nft|iptables), HL_PRIMARY, HL_HOLD_MS: see lib.sh. In RESULT, "daemon" is fwB's (the one
# that commits); "primarySteps" its primary branch's step timings (ms); "daemonLag" the sync lag
# fwA's ctsyncd measured (event read -> peer's ACK) just before the failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
source "$HERE/lab.sh"

conns=1 interval=100 after=6 mode=sync driver=script ipv6=0 keep=0 report="" idle=0 aa=0
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) conns=$2; shift ;;
    --interval) interval=$2; shift ;;
    --after) after=$2; shift ;;
    --mode) mode=$2; shift ;;
    --driver) driver=$2; shift ;;
    --ipv6) ipv6=1 ;;
    --idle) idle=$2; shift ;;
    --active-active) aa=1 ;;
    --keep) keep=1 ;;
    --report) report=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
case "$mode" in sync|nosync|nocommit) ;; *) echo "bad --mode" >&2; exit 2 ;; esac
case "$driver" in script|keepalived) ;; *) echo "bad --driver" >&2; exit 2 ;; esac
[ "$driver" = keepalived ] && [ "$mode" != sync ] && { echo "keepalived driver runs --mode sync" >&2; exit 2; }
if [ "$aa" = 1 ]; then
  { [ "$driver" = script ] && [ "$ipv6" = 0 ]; } || { echo "--active-active: scripted IPv4 only" >&2; exit 2; }
  HL_AA=1
fi

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$keep" = 0 ]; then lab_down >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Poll $1 (a shell condition) every 50 ms until it holds; give up after $2 seconds of wall time.
wait_for() {
  local cond=$1 deadline=$(($(now_ms) + $2 * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if eval "$cond"; then return 0; fi
    sleep 0.05
  done
  eval "$cond"
}
# fwB's external cache size, from the statistics (spec §5.7: "cache external:" block).
ext_total() {
  dctl B -s 2>/dev/null | awk '/^cache external:/ {e = 1} e && /current active connections/ {print $NF; exit}'
}
# Entries for the lab's server port in fwB's external cache (what fwA replicated to it).
ext_count() {
  dctl B -e 2>/dev/null | grep -c "dport=$SERVER_PORT " || true
}
kernel_count() { # $1 = A|B: kernel conntrack entries for the server port
  nsx "${FW_NS[$1]}" conntrack -L -p tcp --orig-port-dst "$SERVER_PORT" 2>/dev/null | grep -c . || true
}
vip_count() { # $1 = A|B
  ip -n "${FW_NS[$1]}" -o addr show | grep -cE " ($LAN_VIP|$WAN_VIP)/" || true
}

lab_down >/dev/null 2>&1 || true
lab_up
if [ "$mode" != nosync ]; then
  daemon start A
  daemon start B
fi
if [ "$driver" = keepalived ]; then
  vip del A
  keepalived_ctl start A
  wait_for '[ "$(vip_count A)" = 2 ]' 15 || die "keepalived on fwA did not take the VIPs"
  keepalived_ctl start B
  # fwB settles as BACKUP (its notify_backup runs -t and -n / demote); a ctsyncd fwB is in FAULT
  # until its first sync from fwA is complete (track_file on its readiness file).
  wait_for '[ "$(vrrp_state B)" = BACKUP ]' 15 || die "keepalived on fwB did not become BACKUP ($(vrrp_state B))"
  [ "$(vip_count B)" = 0 ] || die "fwB holds VIPs while fwA is master"
elif [ "$mode" = sync ]; then
  # Scripted: fwB runs the backup branch of the notify hook, as keepalived's notify_backup would
  # (not for the negative controls: it only costs time there).
  nsx "$NS_FWB" "$HERE/keepalived/notify.sh" "$HL_RUN/fwB" backup
fi

# Idle background flows: ESTABLISHED TCP entries from 10.77.128.0/17 (not a real host) to the
# server's port 6000, 64 source ports per address, one-hour timeout, loaded in one batch.
idle_load_ms=null idle_sync_ms=null
if [ "$idle" -gt 0 ]; then
  node -e '
    const n = Number(process.argv[1]); const out = [];
    for (let i = 0; i < n; i++)
      out.push(`-I -s 10.77.${128 + (i >> 14)}.${(i >> 6) & 255} -d ${process.argv[2]} -p tcp` +
        ` --sport ${10000 + (i & 63)} --dport 6000 --state ESTABLISHED -u ASSURED -t 3600`);
    process.stdout.write(out.join("\n") + "\n");
  ' "$idle" "$SERVER_IP" >"$HL_RUN/idle.txt"
  t=$(now_ms)
  nsx "$NS_FWA" conntrack -R "$HL_RUN/idle.txt" >/dev/null 2>&1 || true
  idle_load_ms=$(($(now_ms) - t))
  log "fwA: $(nsx "$NS_FWA" conntrack -C) entries after loading $idle idle flows in $idle_load_ms ms"
  if [ "$mode" != nosync ]; then
    wait_for '[ "$(ext_total)" -ge "$idle" ]' 120 && idle_sync_ms=$(($(now_ms) - t))
    log "fwB external cache: $(ext_total) entries (idle flows synced ${idle_sync_ms} ms after load start)"
  fi
fi

target=$SERVER_IP
[ "$ipv6" = 1 ] && target=$SERVER_IP6
start_bg "$NS_SERVER" "$HL_RUN/server.log" "$HL_RUN/server.pid" \
  node "$HERE/traffic.js" server --host "$target" --port "$SERVER_PORT" --lifetime 300
wait_for 'grep -q LISTENING "$HL_RUN/server.log"' 10 || die "traffic server did not start"

# One traffic client per path: "client" through fwA; with --active-active also "client2" from the
# second address through fwB. Files: $HL_RUN/<name>.{pid,log,ready,mark,report}.
start_client() { # name [source address]
  local c=$1 src=()
  [ -n "${2:-}" ] && src=(--source "$2")
  rm -f "$HL_RUN/$c.ready" "$HL_RUN/$c.report"
  start_bg "$NS_CLIENT" "$HL_RUN/$c.log" "$HL_RUN/$c.pid" \
    node "$HERE/traffic.js" client --target "$target" --port "$SERVER_PORT" --conns "$conns" "${src[@]}" \
    --interval "$interval" --after "$after" --max-run 60 --drain-ms 3000 \
    --ready-file "$HL_RUN/$c.ready" --mark-file "$HL_RUN/$c.mark" --report "$HL_RUN/$c.report"
}
clients=(client)
start_client client
if [ "$aa" = 1 ]; then
  clients+=(client2)
  start_client client2 "$CLIENT_IP2"
fi
for c in "${clients[@]}"; do
  wait_for '[ -s "$HL_RUN/$c.ready" ]' 30 || { cat "$HL_RUN/$c.log" >&2; die "$c not ready"; }
done
ready_ms=$(cat "$HL_RUN/client.ready")
log "$conns connection(s) established through fwA"

# Sync lag: from "all connections established" (client) to "all of them in fwB's external cache".
sync_lag_ms=null ext_entries=0
if [ "$mode" != nosync ]; then
  # With idle flows a full -e dump per poll is slow: poll the cheap statistics instead.
  if [ "$idle" -gt 0 ]; then cond='[ "$(ext_total)" -ge $((idle + conns)) ]'; else cond='[ "$(ext_count)" -ge "$conns" ]'; fi
  if wait_for "$cond" 15; then
    sync_lag_ms=$(($(now_ms) - ready_ms))
  fi
  ext_entries=$(ext_count)
  log "fwB external cache: $ext_entries entries (sync lag ${sync_lag_ms} ms)"
fi
# About a second of steady traffic before the failure; meanwhile ctsyncd's own view of the sync
# lag on fwA (the sender): its lag histogram and the age of its oldest unacknowledged message.
t=$(now_ms)
if [ "$mode" != nosync ] && [ "$(fw_daemon A)" = ctsyncd ]; then
  dsub A stats --json >"$HL_RUN/fwA-stats.json" 2>/dev/null &
  dsub A status --json >"$HL_RUN/fwA-status.json" 2>/dev/null &
  wait
fi
left=$((1000 - ($(now_ms) - t)))
[ "$left" -gt 0 ] && sleep "$(printf '0.%03d' "$left")"

# ---- fwA dies ------------------------------------------------------------------------------
fail_ms=$(now_ms)
for c in "${clients[@]}"; do
  echo "$fail_ms" >"$HL_RUN/$c.mark"
  kill -USR1 "$(cat "$HL_RUN/$c.pid")"
done
links down A
[ "$mode" != nosync ] && daemon kill A
[ "$driver" = keepalived ] && keepalived_ctl stop A
log "fwA is down"

commit_ms=null promote_ms=null primary_rc=null primary_way=null primary_wall_ms=null
done_f=$HL_RUN/fwB/notify-primary.done
if [ "$driver" = script ]; then
  vip add B
  if [ "$mode" = sync ]; then
    # HL_COMMIT_DELAY (s, default 0) simulates a slow notify path: VIPs up, commit late.
    [ "${HL_COMMIT_DELAY:-0}" != 0 ] && sleep "$HL_COMMIT_DELAY"
    # The primary branch of the notify hook, run inside fwB like keepalived runs it.
    nsx "$NS_FWB" "$HERE/keepalived/notify.sh" "$HL_RUN/fwB" primary
  fi
  promote_ms=$(($(now_ms) - fail_ms))
else
  if wait_for '[ -s "$done_f" ]' 20; then
    promote_ms=$(($(now_ms) - fail_ms))
  else
    log "keepalived on fwB did not complete notify_master"
  fi
fi
if [ -s "$done_f" ]; then
  commit_ms=$(sed -nE 's/.*commit_ms=([0-9]+).*/\1/p' "$done_f")
  primary_rc=$(sed -nE 's/.* rc=([0-9]+).*/\1/p' "$done_f")
  primary_way=$(sed -nE 's/.* way=([a-z]+).*/\1/p' "$done_f")
  primary_wall_ms=$(sed -nE 's/.*total_ms=([0-9]+).*/\1/p' "$done_f")
fi
log "fwB promoted in ${promote_ms} ms (${primary_way:-no} primary branch, rc ${primary_rc}, commit ${commit_ms:-null} ms)"
# Tell the clients the promotion is over: they keep going long enough to see recovery (traffic.js).
for c in "${clients[@]}"; do kill -USR2 "$(cat "$HL_RUN/$c.pid")" 2>/dev/null || true; done
committed=$(kernel_count B)
committed_total=$(nsx "$NS_FWB" conntrack -C 2>/dev/null || echo null)
# The daemon's own account of the commit (entries, in-daemon duration), while the clients run on.
if [ "$mode" = sync ] && [ "$(fw_daemon B)" = ctsyncd ]; then
  dsub B status --json >"$HL_RUN/fwB-status.json" 2>/dev/null || true
fi

reports=()
for c in "${clients[@]}"; do
  pid=$(cat "$HL_RUN/$c.pid")
  wait_for '! kill -0 "$pid" 2>/dev/null' $((after + 20 + $(now_ms) / 1000 - fail_ms / 1000)) || die "$c did not finish"
  [ -s "$HL_RUN/$c.report" ] || { cat "$HL_RUN/$c.log" >&2; die "no report from $c"; }
  reports+=("$HL_RUN/$c.report")
done

result=$(node -e '
  // One report per traffic client; counts add up, outages are taken over all connections.
  const rs = process.argv[1].split(",").map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
  const sum = (k) => rs.reduce((acc, x) => acc + x[k], 0);
  const outs = rs.flatMap((x) => x.perConn).filter((p) => p.survived && p.outageMs !== null)
    .map((p) => p.outageMs).sort((a, b) => a - b);
  const r = {
    conns: sum("conns"), connected: sum("connected"), survived: sum("survived"), resets: sum("resets"),
    closed: sum("closed"), stalled: sum("stalled"), gaps: sum("gaps"), dups: sum("dups"),
    sent: sum("sent"), echoed: sum("echoed"),
    survivedOutageMs: { max: outs.at(-1) ?? null, p50: outs.length ? outs[Math.floor(outs.length / 2)] : null },
  };
  const [daemon, daemonA, mode, driver, fw, ipv6, lag, ext, committed, commitMs, promoteMs,
    idle, idleLoadMs, idleSyncMs, committedTotal, runDir, primaryRc, primaryWay, primaryWallMs] = process.argv.slice(2);
  const n = (v) => (v === "null" || v === "" ? null : Number(v));
  const fs = require("fs");
  const readJson = (f) => { try { return JSON.parse(fs.readFileSync(`${runDir}/${f}`, "utf8")); } catch { return null; } };
  // The steps of the primary branch ("<step> <ms>" lines from notify.sh), e.g. {commit: 12, hold: 15,
  // "flush-external": 3, "resync-kernel": 20, bulk: 4, promote: 45, committed: 500}.
  let primarySteps = null;
  try {
    primarySteps = {};
    for (const l of fs.readFileSync(`${runDir}/fwB/primary.steps`, "utf8").split("\n")) {
      const m = /^(\S+) (\d+)$/.exec(l);
      if (m) primarySteps[m[1]] = Number(m[2]);
    }
  } catch { primarySteps = null; }
  // ctsyncd on fwA: lag histogram (event read -> ACK from fwB). Buckets are upper bounds, so the
  // percentiles are "at most" values; the last bucket is open (beyond the last bound).
  let daemonLag = null;
  const st = readJson("fwA-stats.json");
  const lagH = st?.mode?.lag;
  if (lagH && lagH.count > 0) {
    const pct = (q) => {
      let acc = 0;
      for (let i = 0; i < lagH.counts.length; i++) {
        acc += lagH.counts[i];
        if (acc >= q * lagH.count) return lagH.boundsMs[i] ?? null;
      }
      return null;
    };
    daemonLag = { count: lagH.count, meanMs: Math.round((lagH.sumMs / lagH.count) * 10) / 10, p50LeMs: pct(0.5), p99LeMs: pct(0.99) };
  }
  const stA = readJson("fwA-status.json");
  const stB = readJson("fwB-status.json");
  const out = {
    daemon: mode === "nosync" ? null : daemon, daemonA: mode === "nosync" ? null : daemonA, mode, driver,
    activeActive: rs.length > 1, firewall: fw, ipv6: ipv6 === "1",
    conns: r.conns, connected: r.connected, survived: r.survived, resets: r.resets, closed: r.closed,
    stalled: r.stalled, gaps: r.gaps, dups: r.dups, sent: r.sent, echoed: r.echoed,
    outageMaxMs: r.survivedOutageMs.max, outageP50Ms: r.survivedOutageMs.p50,
    syncLagMs: n(lag), externalEntries: n(ext), committedEntries: n(committed),
    commitMs: n(commitMs), promoteMs: n(promoteMs),
    idleFlows: n(idle), idleLoadMs: n(idleLoadMs), idleSyncMs: n(idleSyncMs), fwBKernelEntries: n(committedTotal),
    primaryWay: primaryWay === "null" ? null : primaryWay, primaryRc: n(primaryRc), primarySteps,
    primaryWallMs: n(primaryWallMs),
    daemonLag, fwAOldestUnackedMs: stA ? Math.round(stA.oldestUnackedMs) : null,
    daemonCommit: stB?.lastCommit ? { committed: stB.lastCommit.committed, failed: stB.lastCommit.failed,
      durationMs: Math.round(stB.lastCommit.durationMs * 10) / 10 } : null,
    pass: r.conns > 0 && r.survived === r.conns,
  };
  process.stdout.write(JSON.stringify(out));
' "$(IFS=,; echo "${reports[*]}")" "$(fw_daemon B)" "$(fw_daemon A)" "$mode" "$driver" "$HL_FW" "$ipv6" "$sync_lag_ms" \
  "$ext_entries" "$committed" "$commit_ms" "$promote_ms" "$idle" "$idle_load_ms" "$idle_sync_ms" \
  "$committed_total" "$HL_RUN" "$primary_rc" "$primary_way" "$primary_wall_ms")
[ -n "$report" ] && cat "${reports[@]}" >"$report"
echo "RESULT $result"
if grep -q '"pass":true' <<<"$result"; then exit 0; else exit 1; fi
