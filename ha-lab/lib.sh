# shellcheck shell=bash
# Common names, addresses and helpers for the ha-lab scripts (sourced, never run).
#
# Every name the lab creates starts with $HL_PREFIX (default "hl"), so several labs (the demo, and
# each test file with its own prefix) can coexist and never collide with anything else on the
# machine. Addresses are private and exist only inside the lab's namespaces.
#
# Knobs (environment):
#   HL_PREFIX    name prefix for namespaces and the run dir          (default hl)
#   SYNC_DAEMON  ctsyncd | conntrackd: the state-sync daemon to run   (default ctsyncd; Debian's
#                conntrackd 1.4.7 is the reference it is compared with)
#   HL_FW        nft | iptables: how the firewalls are written         (default nft)
#   HL_RUN       run dir with configs, pid files and logs              (default /run/$HL_PREFIX)
#   HL_PRIMARY   promote | flags: how a ctsyncd fwB becomes primary: `ctsyncd promote` (default)
#                or conntrackd's client flags -c, -f internal, -R, -B (conntrackd always: flags)
#   HL_HOLD_MS   promote's fail-open bound for its traffic hold        (default 2000)
#   HL_TRACK_FILE_A / _B  keepalived's track_file for a ctsyncd firewall (default: the daemon's
#                readiness file <UNIX Path>.ready)

HL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HL_REPO=$(cd "$HL_DIR/.." && pwd)
HL_PREFIX=${HL_PREFIX:-hl}
SYNC_DAEMON=${SYNC_DAEMON:-ctsyncd}
HL_FW=${HL_FW:-nft}
HL_RUN=${HL_RUN:-/run/$HL_PREFIX}
# Only to demonstrate why the lab needs 0 (README): 1 lets the backup adopt mid-stream TCP.
HL_TCP_LOOSE=${HL_TCP_LOOSE:-0}

NS_CLIENT=$HL_PREFIX-client
NS_FWA=$HL_PREFIX-fwA
NS_FWB=$HL_PREFIX-fwB
NS_SERVER=$HL_PREFIX-server
NS_LAN=$HL_PREFIX-lan
NS_WAN=$HL_PREFIX-wan
HL_ALL_NS=("$NS_CLIENT" "$NS_FWA" "$NS_FWB" "$NS_SERVER" "$NS_LAN" "$NS_WAN")

# LAN 10.77.1.0/24, WAN 10.77.2.0/24, sync link 10.77.3.0/30 (IPv6: fd77:1::/64, fd77:2::/64).
LAN_VIP=10.77.1.1
LAN_VIP6=fd77:1::1
WAN_VIP=10.77.2.1
WAN_VIP6=fd77:2::1
# Active/active (HL_AA=1): a second VIP set, held by fwB, used by a second client address.
LAN_VIP2=10.77.1.4
WAN_VIP2=10.77.2.4
CLIENT_IP2=10.77.1.11
HL_AA=${HL_AA:-0}
CLIENT_IP=10.77.1.10
CLIENT_IP6=fd77:1::10
SERVER_IP=10.77.2.100
SERVER_IP6=fd77:2::100
SERVER_PORT=5001
SYNC_PORT=3780
# Per-firewall own addresses: index A or B.
declare -A FW_NS=([A]=$NS_FWA [B]=$NS_FWB)
declare -A FW_LAN=([A]=10.77.1.2 [B]=10.77.1.3)
declare -A FW_LAN6=([A]=fd77:1::2 [B]=fd77:1::3)
declare -A FW_WAN=([A]=10.77.2.2 [B]=10.77.2.3)
declare -A FW_WAN6=([A]=fd77:2::2 [B]=fd77:2::3)
declare -A FW_SYNC=([A]=10.77.3.1 [B]=10.77.3.2)
declare -A FW_PEER=([A]=B [B]=A)

# The sync daemon of firewall $1 (A|B): SYNC_DAEMON_A / SYNC_DAEMON_B override SYNC_DAEMON, for
# a mixed pair (e.g. conntrackd on fwA, ctsyncd on fwB).
fw_daemon() {
  local v="SYNC_DAEMON_${1:-}"
  echo "${!v:-$SYNC_DAEMON}"
}

# The sync daemon's binary for firewall $1 (A|B; without it: $SYNC_DAEMON). Both daemons take the
# same client flags (conntrackd compatibility); only ctsyncd has the subcommands (dsub).
sync_daemon_bin() {
  local which
  which=$(fw_daemon "${1:-}")
  case "$which" in
    conntrackd) command -v conntrackd || echo /usr/sbin/conntrackd ;;
    ctsyncd) echo "$HL_REPO/bin/ctsyncd" ;;
    *) echo "unknown sync daemon '$which' (conntrackd|ctsyncd)" >&2; return 1 ;;
  esac
}

now_ms() { date +%s%3N; }
log() { echo "[ha-lab $(date +%T.%3N)] $*" >&2; }
die() { log "ERROR: $*"; exit 2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# Kill the process whose PID is in $1 (a pid file), by PID only, then remove the file.
kill_pidfile() {
  local f=$1 sig=${2:-TERM} pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
  return 0
}

# Start "$@" inside namespace $1 in the background; log to $2, pid file $3.
# `ip netns exec` execs the command, so $! is the program's own PID.
start_bg() {
  local ns=$1 logf=$2 pidf=$3; shift 3
  ip netns exec "$ns" "$@" >"$logf" 2>&1 </dev/null &
  echo $! >"$pidf"
  disown $! 2>/dev/null || true # no "Killed" job notices when we stop it later
}

# Client flags to the sync daemon of firewall $1 (A|B), run inside that firewall's namespace.
dctl() {
  local x=$1
  shift
  ip netns exec "${FW_NS[$x]}" "$(sync_daemon_bin "$x")" -C "$HL_RUN/fw$x/conntrackd.conf" "$@"
}

# One of ctsyncd's own subcommands (promote, demote, status, stats) on firewall $1 (A|B), e.g.
# `dsub B status --json --ready`. Only for a firewall that runs ctsyncd.
dsub() {
  local x=$1 sub=$2
  shift 2
  ip netns exec "${FW_NS[$x]}" "$HL_REPO/bin/ctsyncd" "$sub" -C "$HL_RUN/fw$x/conntrackd.conf" "$@"
}
