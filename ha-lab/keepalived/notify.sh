#!/usr/bin/env bash
# keepalived notify hook for the ha-lab (also run by failover.sh's scripted driver, so both
# drivers promote fwB the same way).
#
#   notify.sh <fw-run-dir> primary|backup|fault
#
# <fw-run-dir> holds daemon.env (DAEMON_KIND, DAEMON_BIN, DAEMON_CONF, DAEMON_DIR, HOLD_MS,
# PRIMARY_WAY; written by lab.sh). Two ways, by the firewall's daemon:
#
# * ctsyncd: the logic of our shipped systemd/keepalived/ctsyncd-notify.sh, with the lab's paths
#   and without its systemctl call (the lab runs the daemon itself, with a pid file):
#     primary: `ctsyncd promote --hold-ms HOLD_MS` (hold new/invalid forwarded traffic with an nft
#              table, commit, release, flush, resync with the kernel, bulk-send; it prints each
#              step with its duration and exits non-zero on a partial commit)
#     backup:  `-t`, then `ctsyncd demote` (ask the new primary for a full resync)
#     fault:   `-t`
# * conntrackd (or PRIMARY_WAY=flags): our rewrite of conntrack-tools' doc/sync/primary-backup.sh
#   with the conntrackd-compatible client flags (spec §5.4): -c, -f internal, -R, -B / -t, -n / -t.
#
# keepalived runs it inside the firewall's namespace. Every step is logged with its duration and
# exit code to notify.log; the primary branch writes primary.steps ("<step> <ms>" lines, plus
# "committed <n>" for promote) and, last, notify-primary.done (total_ms, commit_ms, rc, way) for
# the orchestrator. Every invocation appends "<epoch ms> <state>" to vrrp.states.
# Failures are logged, not fatal (exit 0): keepalived's transition is never blocked by the daemon.
set -u
dir=$1
state=$2
# shellcheck source=/dev/null
source "$dir/daemon.env"
logf=$dir/notify.log
ms() { date +%s%3N; }
echo "$(ms) $state" >>"$dir/vrrp.states"

way=flags
[ "${DAEMON_KIND:-}" = ctsyncd ] && [ "${PRIMARY_WAY:-promote}" = promote ] && way=promote

run() { # label, then the daemon's arguments; the daemon's output goes to our stdout
  local label=$1 t rc
  shift
  t=$(ms)
  "$DAEMON_BIN" "$@" 2>>"$logf"
  rc=$?
  echo "$(date +%T.%3N) $state: $label ($*) rc=$rc in $(($(ms) - t)) ms" >>"$logf"
  return $rc
}
# A client flag call, timed into primary.steps.
step() { # label, flags...
  local label=$1 t rc=0
  shift
  t=$(ms)
  run "$label" -C "$DAEMON_CONF" "$@" >>"$logf" || rc=$?
  echo "$label $(($(ms) - t))" >>"$dir/primary.steps"
  return $rc
}

case "$state" in
  primary)
    t0=$(ms)
    rm -f "$dir/notify-primary.done" "$dir/primary.steps" "$dir/promote.out"
    rc=0
    if [ "$way" = promote ]; then
      run promote promote -C "$DAEMON_CONF" --hold-ms "${HOLD_MS:-2000}" >"$dir/promote.out" || rc=$?
      cat "$dir/promote.out" >>"$logf"
      # ctsyncd's own step timings (src/cli/ops.ts), one "<step> <ms>" line each.
      sed -nE \
        -e 's/^promote: commit [a-z]+: ([0-9]+) entries.* in ([0-9]+) ms$/commit \2\ncommitted \1/p' \
        -e 's/^promote: hold released \(.*\) after ([0-9]+) ms.*/hold \1/p' \
        -e 's/^promote: external cache flushed \(([0-9]+) ms\)/flush-external \1/p' \
        -e 's/^promote: internal cache resynced with the kernel \(([0-9]+) ms\)/resync-kernel \1/p' \
        -e 's/^promote: bulk update sent to peers \(([0-9]+) ms\)/bulk \1/p' \
        -e 's/^promote: done.* in ([0-9]+) ms$/promote \1/p' \
        "$dir/promote.out" >"$dir/primary.steps"
      commit_ms=$(sed -nE 's/^commit ([0-9]+)$/\1/p' "$dir/primary.steps")
    else
      # 1. commit the external cache (what the peer replicated to us) into the kernel table
      tc=$(ms)
      step commit -c || rc=$?
      commit_ms=$(($(ms) - tc))
      # 2. flush the internal cache. Upstream's script runs a bare -f (internal and external);
      #    the lab flushes only the internal one, so the committed state also stays in the
      #    external cache until the peer resyncs. HL_NOTIFY_FLUSH=all restores upstream's -f.
      if [ "${HL_NOTIFY_FLUSH:-internal}" = all ]; then
        step flush-all -f
      else
        step flush-internal -f internal
      fi
      # 3. resynchronize the internal cache with the kernel table (now holding the committed flows)
      step resync-kernel -R
      # 4. bulk-send the internal cache to the backups
      step bulk -B
    fi
    echo "total_ms=$(($(ms) - t0)) commit_ms=${commit_ms:-null} rc=$rc way=$way" >"$dir/notify-primary.done"
    ;;
  backup)
    # Is the daemon running? The statistics request doubles as a liveness probe.
    if ! run probe -C "$DAEMON_CONF" -s >/dev/null; then
      # Upstream starts it with -d after removing a stale lock; the lab starts it in the
      # foreground with a pid file so it can stop it by PID.
      rm -f "$DAEMON_DIR/daemon.lock"
      "$DAEMON_BIN" -C "$DAEMON_CONF" >"$DAEMON_DIR/daemon.log" 2>&1 </dev/null &
      echo $! >"$DAEMON_DIR/daemon.pid"
      sleep 1
    fi
    # Shorten the kernel timers of entries left from our time as primary (PurgeTimeout).
    run purge-timers -C "$DAEMON_CONF" -t >>"$logf"
    # Ask the primary (if any) for a full resync of its state.
    if [ "$way" = promote ]; then
      run demote demote -C "$DAEMON_CONF" >>"$logf"
    else
      run request-resync -C "$DAEMON_CONF" -n >>"$logf"
    fi
    ;;
  fault)
    run purge-timers -C "$DAEMON_CONF" -t >>"$logf"
    ;;
  *)
    echo "usage: $0 <fw-run-dir> primary|backup|fault" >&2
    exit 1
    ;;
esac
exit 0
