#!/usr/bin/env bash
# Installs ctsyncd's systemd unit, an example config, keepalived snippets and a modules-load.d
# entry onto a host. The daemon itself (/usr/bin/ctsyncd) comes from the package.
#   systemd/install.sh                      # onto this host (root)
#   DESTDIR=/tmp/x systemd/install.sh       # staged install (packaging, tests)
# Paths are overridable: UNITDIR, CONFDIR, KEEPALIVEDDIR, MODULESLOADDIR, DOCDIR.
# Never overwrites an existing /etc/ctsyncd/ctsyncd.conf. Runs `systemctl daemon-reload` only
# for a live install (no DESTDIR) on a host where systemd is running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DESTDIR=${DESTDIR:-}
UNITDIR=${UNITDIR:-/etc/systemd/system}
CONFDIR=${CONFDIR:-/etc/ctsyncd}
KEEPALIVEDDIR=${KEEPALIVEDDIR:-/etc/keepalived}
MODULESLOADDIR=${MODULESLOADDIR:-/etc/modules-load.d}
DOCDIR=${DOCDIR:-/usr/share/doc/ctsyncd}

install -d -m 0755 "$DESTDIR$UNITDIR" "$DESTDIR$KEEPALIVEDDIR" "$DESTDIR$MODULESLOADDIR" "$DESTDIR$DOCDIR"
install -d -m 0750 "$DESTDIR$CONFDIR"
install -m 0644 "$here/ctsyncd.service" "$DESTDIR$UNITDIR/ctsyncd.service"
install -m 0644 "$here/ctsyncd.conf.example" "$DESTDIR$CONFDIR/ctsyncd.conf.example"
if [ ! -e "$DESTDIR$CONFDIR/ctsyncd.conf" ]; then
  install -m 0640 "$here/ctsyncd.conf.example" "$DESTDIR$CONFDIR/ctsyncd.conf"
  echo "install: wrote $DESTDIR$CONFDIR/ctsyncd.conf (edit interfaces and addresses)"
else
  echo "install: kept existing $DESTDIR$CONFDIR/ctsyncd.conf"
fi
install -m 0755 "$here/keepalived/ctsyncd-notify.sh" "$DESTDIR$KEEPALIVEDDIR/ctsyncd-notify.sh"
install -m 0644 "$here/keepalived/ctsyncd.keepalived.conf" "$DESTDIR$KEEPALIVEDDIR/ctsyncd.keepalived.conf.example"
install -m 0644 "$here/modules-load.conf" "$DESTDIR$MODULESLOADDIR/ctsyncd.conf"
if [ -f "$here/../README.md" ]; then install -m 0644 "$here/../README.md" "$DESTDIR$DOCDIR/README.md"; fi

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "install: done; enable with: systemctl enable --now ctsyncd.service"
else
  echo "install: done (staged into '${DESTDIR:-/}'; no daemon-reload)"
fi
