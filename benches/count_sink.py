#!/usr/bin/env python3
"""A minimal SMTP sink that records who got a message, for benches/send.sh.

    python3 benches/count_sink.py PORT LOG FIRST

Accepts every transaction on 127.0.0.1:PORT and, when the server has the
whole message (the closing "." line), appends each of its envelope
recipients to LOG, one per line, written at once, so a kill -9 of the
sender can be judged afterwards: a recipient missing from LOG never got the
issue, one listed twice got it twice. FIRST receives the wall-clock time
(seconds since the epoch) of the first accepted message. Postfix's smtp-sink
cannot do this without dumping every message (68 GB for a million), which
is why this exists; it is slower than smtp-sink, so it is used only where
delivery counts matter, never for throughput.
"""

import asyncio
import sys
import time

PORT, LOG, FIRST = int(sys.argv[1]), sys.argv[2], sys.argv[3]
log = open(LOG, "ab", buffering=0)
first_seen = False


def delivered(rcpts):
    global first_seen
    if not first_seen:
        with open(FIRST, "w") as f:
            f.write(f"{time.time():.6f}\n")
        first_seen = True
    if rcpts:
        log.write(b"".join(r + b"\n" for r in rcpts))


async def session(reader, writer):
    writer.write(b"220 count-sink ESMTP\r\n")
    rcpts = []
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = line[:4].upper()
            if cmd in (b"EHLO", b"HELO"):
                writer.write(b"250-count-sink\r\n250 8BITMIME\r\n")
            elif cmd == b"MAIL":
                rcpts = []
                writer.write(b"250 2.1.0 Ok\r\n")
            elif cmd == b"RCPT":
                start, end = line.find(b"<"), line.find(b">")
                rcpts.append(line[start + 1 : end].lower())
                writer.write(b"250 2.1.5 Ok\r\n")
            elif cmd == b"DATA":
                writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")
                delivered(rcpts)
                rcpts = []
                writer.write(b"250 2.0.0 Ok: queued\r\n")
            elif cmd == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                break
            else:  # RSET, NOOP
                rcpts = [] if cmd == b"RSET" else rcpts
                writer.write(b"250 2.0.0 Ok\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the sender died mid-message: nothing was delivered
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(session, "127.0.0.1", PORT, limit=1 << 24, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main())
