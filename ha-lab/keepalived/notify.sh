#!/usr/bin/env bash
# keepalived notify hook for the ha-lab: our rewrite of the logic of conntrack-tools'
# doc/sync/primary-backup.sh, driving the sync daemon through its conntrackd-compatible client
# flags (spec §5.4, "Recommended fail-over sequence").
#
#   notify.sh <fw-run-dir> primary|backup|fault
#
# <fw-run-dir> holds daemon.env (DAEMON_BIN, DAEMON_CONF, DAEMON_NS, DAEMON_DIR, written by
# lab.sh), so the same script serves conntrackd and ctsyncd. keepalived runs it inside the
# firewall's namespace. Every step is logged with its duration and exit code to notify.log, and
# the primary branch leaves notify-primary.done (total and commit time in ms) for the orchestrator.
set -u
dir=$1
state=$2
# shellcheck source=/dev/null
source "$dir/daemon.env"
logf=$dir/notify.log
ms() { date +%s%3N; }

run() { # label, then the client flags; the client's output goes to our stdout
  local label=$1 t rc
  shift
  t=$(ms)
  "$DAEMON_BIN" -C "$DAEMON_CONF" "$@" 2>>"$logf"
  rc=$?
  echo "$(date +%T.%3N) $state: $label ($*) rc=$rc in $(($(ms) - t)) ms" >>"$logf"
  return $rc
}

case "$state" in
  primary)
    t0=$(ms)
    rm -f "$dir/notify-primary.done"
    # 1. commit the external cache (what the peer replicated to us) into the kernel table
    tc=$(ms)
    run commit -c >>"$logf"
    commit_ms=$(($(ms) - tc))
    # 2. flush the internal cache. Upstream's script runs a bare -f (internal and external); the
    #    lab flushes only the internal one (issue 6), so the committed state also stays in the
    #    external cache until the peer resyncs. HL_NOTIFY_FLUSH=all restores upstream's -f.
    if [ "${HL_NOTIFY_FLUSH:-internal}" = all ]; then
      run flush-all -f >>"$logf"
    else
      run flush-internal -f internal >>"$logf"
    fi
    # 3. resynchronize the internal cache with the kernel table (now holding the committed flows)
    run resync-kernel -R >>"$logf"
    # 4. bulk-send the internal cache to the backups
    run bulk -B >>"$logf"
    echo "total_ms=$(($(ms) - t0)) commit_ms=$commit_ms" >"$dir/notify-primary.done"
    ;;
  backup)
    # Is the daemon running? The statistics request doubles as a liveness probe.
    if ! run probe -s >/dev/null; then
      # Upstream starts it with -d after removing a stale lock; the lab starts it in the
      # foreground with a pid file so it can stop it by PID.
      rm -f "$DAEMON_DIR/daemon.lock"
      "$DAEMON_BIN" -C "$DAEMON_CONF" >"$DAEMON_DIR/daemon.log" 2>&1 </dev/null &
      echo $! >"$DAEMON_DIR/daemon.pid"
      sleep 1
    fi
    # Shorten the kernel timers of entries left from our time as primary (PurgeTimeout).
    run purge-timers -t >>"$logf"
    # Ask the primary (if any) for a full resync of its state.
    run request-resync -n >>"$logf"
    ;;
  fault)
    run purge-timers -t >>"$logf"
    ;;
  *)
    echo "usage: $0 <fw-run-dir> primary|backup|fault" >&2
    exit 1
    ;;
esac
exit 0
