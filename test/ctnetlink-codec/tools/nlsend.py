#!/usr/bin/env python3
"""Sends netlink requests (hex, one datagram per stdin line) on a NETLINK_NETFILTER socket in
the current network namespace and prints every reply message as `seq type errno hex`
(errno only for NLMSG_ERROR, else -). Waits up to 2 s per datagram for an ACK/error or DONE
of each message. Test helper only: run it inside a scratch netns (ip netns exec ...).
"""
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NLMSG_ERROR = 2
NLMSG_DONE = 3


def main() -> None:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    s.settimeout(2.0)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        data = bytes.fromhex(line)
        # sequence numbers of the messages that will be answered (ACK flag, or any request:
        # errors always come back)
        pending = set()
        off = 0
        while off + 16 <= len(data):
            ln, _t, _fl, seq, _pid = struct.unpack_from('<IHHII', data, off)
            pending.add(seq)
            off += (ln + 3) & ~3
        s.send(data)
        while pending:
            try:
                buf = s.recv(1 << 20)
            except socket.timeout:
                break
            off = 0
            while off + 16 <= len(buf):
                ln, typ, _fl, seq, _pid = struct.unpack_from('<IHHII', buf, off)
                msg = buf[off:off + ln]
                if typ == NLMSG_ERROR:
                    err = struct.unpack_from('<i', buf, off + 16)[0]
                    oseq = struct.unpack_from('<I', buf, off + 16 + 4 + 8)[0]
                    print(oseq, typ, -err, msg.hex(), flush=True)
                    pending.discard(oseq)
                else:
                    print(seq, typ, '-', msg.hex(), flush=True)
                    if typ == NLMSG_DONE:
                        pending.discard(seq)
                off += (ln + 3) & ~3


if __name__ == '__main__':
    main()
