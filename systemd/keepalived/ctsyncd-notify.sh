#!/bin/sh
# keepalived notify script for ctsyncd. Installed to /etc/keepalived/ctsyncd-notify.sh.
#   ctsyncd-notify.sh primary|backup|fault
# primary: `ctsyncd promote` = hold new/invalid forwarded traffic (fail-open bound), commit the
#          peer's states, release, flush the external cache, resync with the kernel, bulk-send.
#          (conntrack-tools' primary-backup.sh runs -c, -f, -R, -B with no hold: the VIP is
#          already up, so the first packets of synced flows can meet an empty table.)
# backup:  `ctsyncd demote` = ask the new primary for a full resync (primary-backup.sh: -t, -n).
# Failures are logged, not fatal: keepalived's transition is never blocked by the sync daemon.
CTSYNCD=${CTSYNCD:-/usr/bin/ctsyncd}
CONF=${CTSYNCD_CONF:-/etc/ctsyncd/ctsyncd.conf}
HOLD_MS=${CTSYNCD_HOLD_MS:-2000}

run() {
  out=$("$CTSYNCD" "$@" -C "$CONF" 2>&1); rc=$?
  logger -t ctsyncd-notify "ctsyncd $1 rc=$rc: $(echo "$out" | tail -n 1)"
  return $rc
}

case "$1" in
  primary)
    run promote --hold-ms "$HOLD_MS"
    ;;
  backup)
    # systemd keeps the daemon running (Restart=on-failure); make sure it is up
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl is-active --quiet ctsyncd.service || systemctl start ctsyncd.service
    fi
    "$CTSYNCD" -C "$CONF" -t || logger -t ctsyncd-notify "ctsyncd -t failed"
    run demote
    ;;
  fault)
    "$CTSYNCD" -C "$CONF" -t || logger -t ctsyncd-notify "ctsyncd -t failed"
    ;;
  *)
    echo "usage: $0 primary|backup|fault" >&2
    exit 1
    ;;
esac
exit 0
