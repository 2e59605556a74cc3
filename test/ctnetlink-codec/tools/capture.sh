#!/usr/bin/env bash
# Regenerates the golden ctnetlink fixtures from the real kernel (run as root, from the repo
# root: bash test/ctnetlink-codec/tools/capture.sh). Everything happens in a scratch network
# namespace (ctc-<pid>-cap) and a private mount namespace; both are gone afterwards.
#
# For each capture, strace records the exact bytes conntrack(8) received (fixtures/*.recv.hex,
# one kernel datagram per line) next to what conntrack printed (fixtures/*.txt), so the tests
# can check decode + format against conntrack's own rendering of the same bytes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
FIX="$HERE/../fixtures"
N="ctc-$$-cap"
TMP=$(mktemp -d /tmp/ctc-cap.XXXXXX)
cleanup() { ip netns del "$N" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$FIX" "$TMP/up/xtables" "$TMP/work"
# connlabel.conf for conntrack (xtables path) and nft (/etc) -- only inside the mount namespace
printf '0 blue\n1 green\n5 red\n' > "$TMP/up/xtables/connlabel.conf"
cp "$TMP/up/xtables/connlabel.conf" "$TMP/up/connlabel.conf"
(cd "$ROOT" && npx ts-node-transpile-only test/ctnetlink-codec/tools/mkreq.ts helper seqadj synproxy v6snat liberal ftpexp) > "$TMP/req.hex"
ip netns add "$N"
unshare -m bash -c "mount -t overlay overlay -o lowerdir=/etc,upperdir=$TMP/up,workdir=$TMP/work /etc && ip netns exec $N bash $HERE/capture-inner.sh $TMP $FIX $HERE"
echo "fixtures written to $FIX"
