#!/usr/bin/env python3
"""Extracts the bytes of netlink syscalls from `strace -e read=all -e write=all -xx` output.

Usage: strace2hex.py <strace.log> <recv-out.hex> [<send-out.hex>]
Writes one line of hex per recvmsg (= one kernel datagram) and per sendto/sendmsg.
"""
import re
import sys

HEXLINE = re.compile(r'^ \| ([0-9a-f]{5})  ((?:[0-9a-f]{2} {1,2}){1,16})')


def main() -> None:
    log, recv_out = sys.argv[1], sys.argv[2]
    send_out = sys.argv[3] if len(sys.argv) > 3 else None
    blocks = []  # (kind, bytearray)
    cur = None
    for line in open(log, encoding='latin1'):
        m = re.match(r'^(?:\[pid +\d+\] )?(recvmsg|recvfrom|sendto|sendmsg)\(', line)
        if m:
            cur = (m.group(1), bytearray())
            blocks.append(cur)
            continue
        h = HEXLINE.match(line)
        if h and cur is not None:
            cur[1].extend(bytes.fromhex(h.group(2).replace(' ', '')))
    with open(recv_out, 'w') as f:
        for kind, data in blocks:
            if kind.startswith('recv') and data:
                f.write(data.hex() + '\n')
    if send_out:
        with open(send_out, 'w') as f:
            for kind, data in blocks:
                if not kind.startswith('recv') and data:
                    f.write(data.hex() + '\n')


if __name__ == '__main__':
    main()
