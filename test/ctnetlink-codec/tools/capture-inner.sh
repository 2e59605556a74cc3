#!/usr/bin/env bash
# Runs inside the scratch netns + mount namespace set up by capture.sh. Args: TMP FIX TOOLS
set -euo pipefail
TMP=$1
FIX=$2
TOOLS=$3
CT="conntrack"
q() { "$@" >/dev/null 2>&1; }
ST() { strace -o "$TMP/st.log" -e trace=recvmsg,recvfrom,sendto,sendmsg -e read=all -e write=all -xx -s 0 "$@"; }

# connlabels need the label extension in use in this netns (net->ct.labels_used)
nft add table ip ctc
nft add chain ip ctc pre '{ type filter hook prerouting priority 0; }'
nft add rule ip ctc pre ct label set green

# --- events: NEW / UPDATE / DESTROY as conntrack -E prints them
timeout 4 strace -o "$TMP/ev.log" -e trace=recvmsg -e read=all -xx -s 0 $CT -E > "$FIX/events.txt" 2>/dev/null &
EVPID=$!
sleep 0.7
q $CT -I -p udp -s 10.1.0.1 -d 10.1.0.3 --sport 5353 --dport 53 -t 30
q $CT -U -p udp -s 10.1.0.1 -m 9
q $CT -I -p tcp -s 10.1.0.1 -d 10.1.0.2 --sport 999 --dport 22 --state ESTABLISHED -t 100 -u SEEN_REPLY,ASSURED -w 3
q $CT -D -p udp -s 10.1.0.1
q $CT -D -p tcp -s 10.1.0.1 -w 3
wait $EVPID || true
python3 "$TOOLS/strace2hex.py" "$TMP/ev.log" "$FIX/events.recv.hex"

# --- a varied table
q $CT -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1234 --dport 80 --state ESTABLISHED -t 431999 -u SEEN_REPLY,ASSURED
ST $CT -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 --state ESTABLISHED -t 500 -u SEEN_REPLY,ASSURED --src-nat 192.168.9.9:2000 >/dev/null 2>&1
python3 "$TOOLS/strace2hex.py" "$TMP/st.log" "$TMP/x" "$FIX/insert-snat.send.hex"
ST $CT -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1001 --dport 80 --state ESTABLISHED -t 500 -u SEEN_REPLY,ASSURED --dst-nat 10.0.0.9:8080 >/dev/null 2>&1
python3 "$TOOLS/strace2hex.py" "$TMP/st.log" "$TMP/x" "$FIX/insert-dnat.send.hex"
q $CT -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1002 --dport 80 --state SYN_SENT -t 120 -w 7 -m 42
q $CT -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1003 --dport 80 --state ESTABLISHED -t 500 -u SEEN_REPLY,ASSURED --label-add blue
q $CT -U -p tcp -s 10.0.0.1 --sport 1003 --label-add red
q $CT -I -p udp -s 10.0.0.1 -d 10.0.0.3 --sport 5353 --dport 53 -t 30
q $CT -I -p icmp -s 10.0.0.1 -d 10.0.0.4 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30
q $CT -I -p sctp -s 10.0.0.1 -d 10.0.0.5 --sport 3868 --dport 3868 --state ESTABLISHED --orig-vtag 1234 --reply-vtag 5678 -t 200 -u SEEN_REPLY,ASSURED
q $CT -I -p dccp -s 10.0.0.1 -d 10.0.0.6 --sport 4000 --dport 5000 --state OPEN --role server -t 200
q $CT -I -p gre -s 10.0.0.1 -d 10.0.0.7 --srckey 0x11 --dstkey 0x22 -t 200
q $CT -I -p udplite -s 10.0.0.1 -d 10.0.0.8 --sport 1 --dport 2 -t 200
q $CT -I -p tcp -s 2001:db8::1 -d 2001:db8::2 --sport 1234 --dport 443 --state ESTABLISHED -t 300 -u SEEN_REPLY,ASSURED
q $CT -I -p icmpv6 -s fe80::1 -d ff02::1 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 7 -t 30
# entries conntrack -I cannot make (helper, seq-adj, synproxy, v6 NAT) and an expectation,
# built by our encoder and accepted by the kernel (each line must be acknowledged with 0)
python3 "$TOOLS/nlsend.py" < "$TMP/req.hex" > "$TMP/req.out"
if awk '$2 == 2 && $3 != 0 { bad = 1 } END { exit !bad }' "$TMP/req.out"; then
  echo "kernel refused one of our requests:" >&2
  cat "$TMP/req.out" >&2
  exit 1
fi

# --- dumps, with conntrack's own text for the very same bytes
ST $CT -L > "$FIX/dump.txt" 2>/dev/null
python3 "$TOOLS/strace2hex.py" "$TMP/st.log" "$FIX/dump.recv.hex" "$FIX/dump.send.hex"
ST $CT -L -o extended,id > "$FIX/dump-extended-id.txt" 2>/dev/null
python3 "$TOOLS/strace2hex.py" "$TMP/st.log" "$FIX/dump-extended-id.recv.hex"
ST $CT -L -o label > "$FIX/dump-label.txt" 2>/dev/null
python3 "$TOOLS/strace2hex.py" "$TMP/st.log" "$FIX/dump-label.recv.hex"
ST $CT -L expect > "$FIX/expect.txt" 2>/dev/null
python3 "$TOOLS/strace2hex.py" "$TMP/st.log" "$FIX/expect.recv.hex" "$FIX/expect.send.hex"
