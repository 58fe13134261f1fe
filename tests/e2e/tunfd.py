#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Opens a TUN the way a VPN API would hand one over, then execs the real binary
with --tun-fd N (the rest of the command line is passed through; --tun NAME names the
device to open)."""
import fcntl
import os
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def main():
    real, args = sys.argv[1], sys.argv[2:]
    name = args[args.index("--tun") + 1]
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_inheritable(fd, True)
    os.execv(real, [real, "--tun-fd", str(fd)] + args)


if __name__ == "__main__":
    main()
