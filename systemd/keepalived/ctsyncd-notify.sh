#!/bin/sh
# keepalived notify script for ctsyncd (same steps as conntrack-tools' primary-backup.sh,
# spec §5.4 "Recommended fail-over sequence"). Installed to /etc/keepalived/ctsyncd-notify.sh.
#   ctsyncd-notify.sh primary|backup|fault
# Each step talks to the running daemon over its UNIX socket; failures are logged, not fatal,
# so that keepalived's transition is never blocked by the sync daemon.
CTSYNCD=${CTSYNCD:-/usr/bin/ctsyncd}
CONF=${CTSYNCD_CONF:-/etc/ctsyncd/ctsyncd.conf}

step() {
  "$CTSYNCD" -C "$CONF" "$@" || logger -t ctsyncd-notify "ctsyncd $* failed (rc=$?)"
}

case "$1" in
  primary)
    step -c          # commit the external cache (peer's states) into the kernel table
    step -f internal # flush the internal cache
    step -R          # resync the internal cache with the kernel table
    step -B          # bulk-send the internal cache to the backups
    ;;
  backup)
    # systemd keeps the daemon running (Restart=on-failure); just make sure it is up
    systemctl is-active --quiet ctsyncd.service || systemctl start ctsyncd.service
    step -t          # shorten kernel timers of entries left from our time as primary
    step -n          # ask the primary for a full resync
    ;;
  fault)
    step -t
    ;;
  *)
    echo "usage: $0 primary|backup|fault" >&2
    exit 1
    ;;
esac
exit 0
