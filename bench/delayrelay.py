#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A TCP relay that delays every chunk by --delay seconds each way (a long proxy link
where the kernel has no netem). Bounded: at most --max-conns connections, exits after
--lifetime seconds. Usage: delayrelay.py --listen IP:PORT --to IP:PORT --delay 0.01"""
import argparse
import asyncio


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await asyncio.sleep(0)
            loop.call_later(delay, writer.write, data)
        await asyncio.sleep(delay)
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--delay", type=float, default=0.01)
    ap.add_argument("--max-conns", type=int, default=2000)
    ap.add_argument("--lifetime", type=float, default=600)
    a = ap.parse_args()
    lhost, lport = a.listen.rsplit(":", 1)
    thost, tport = a.to.rsplit(":", 1)
    count = 0

    async def handle(cr, cw):
        nonlocal count
        count += 1
        if count > a.max_conns:
            cw.close()
            return
        try:
            tr, tw = await asyncio.open_connection(thost, int(tport))
        except OSError:
            cw.close()
            return
        await asyncio.gather(pump(cr, tw, a.delay), pump(tr, cw, a.delay))
        tw.close()
        cw.close()

    srv = await asyncio.start_server(handle, lhost, int(lport))
    async with srv:
        await asyncio.sleep(a.lifetime)


asyncio.run(main())
