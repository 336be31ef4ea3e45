#!/usr/bin/python3
"""A fault-injecting TCP proxy, for tests of the path between a vernier-worker
and vernier-server (netns_fault_test.py runs it in a worker's namespace).

    fault_proxy.py --listen 127.0.0.1:7000 --upstream 10.200.0.1:50051 \\
        [--seed 1] [--delay-ms 5] [--jitter-ms 20] \\
        [--reset-per-second 0.05] [--reset-per-chunk 0.002] \\
        [--half-open-per-second 0.03] [--half-open-direction random] \\
        [--half-open-seconds 12] [--log FILE]

Every accepted connection gets its own connection to --upstream (a client whose
upstream cannot be reached within --connect-timeout is reset), and bytes are
copied both ways unchanged and in order, half-closes passed on, so gRPC's HTTP/2
runs over it as over a plain socket. Faults are drawn from random.Random
generators seeded by --seed and the connection's number (one for the timed
faults, one per direction for the chunk faults), so a run draws the same faults
for the same connections:

  delay       each chunk read waits delay-ms + uniform(0, jitter-ms) before it
              is written on; a direction's chunks keep their order.
  reset       both sockets are closed abruptly with SO_LINGER 0, so both peers
              get a TCP RST: at a random time (--reset-per-second: the chance
              per second of a connection's life, exponential waiting times),
              or before forwarding a chunk (--reset-per-chunk).
  half-open   one direction stops forwarding (what arrives is read and
              dropped) while both sockets stay open: the receiving peer sees
              silence, not a close. At --half-open-per-second, in the direction
              --half-open-direction (up: client to upstream; down: upstream to
              client; random). After --half-open-seconds the connection is reset
              (a middlebox giving up); 0 keeps it half-open until a peer closes.

The log (--log, default stderr) has one JSON object per line: {"t": seconds
since start, "event": ..., "conn": N, ...}, events listening, accept, connect,
connect_failed, half_open, reset (with its cause: random, chunk, half-open
timeout, or a peer's error passed on), close and, on SIGTERM or SIGINT, summary
(counts of each event, chunks delayed and their total delay). Standard library
only; exits 0 on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import json
import math
import random
import signal
import socket
import struct
import sys
import time

CHUNK_BYTES = 65536
UP, DOWN = "up", "down"  # client -> upstream, upstream -> client


def parse_host_port(text):
    """'host:port' -> (host, port); raises argparse.ArgumentTypeError."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected host:port, got {text!r}")
    return host, int(port)


def probability(text):
    """A float in [0, 1); raises argparse.ArgumentTypeError otherwise."""
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=parse_host_port, required=True, help="host:port")
    parser.add_argument("--upstream", type=parse_host_port, required=True, help="host:port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="fixed delay per chunk")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="uniform extra delay")
    parser.add_argument("--reset-per-second", type=probability, default=0.0)
    parser.add_argument("--reset-per-chunk", type=probability, default=0.0)
    parser.add_argument("--half-open-per-second", type=probability, default=0.0)
    parser.add_argument("--half-open-direction", choices=[UP, DOWN, "random"], default="random")
    parser.add_argument("--half-open-seconds", type=float, default=10.0,
                        help="then reset the connection; 0: never")
    parser.add_argument("--connect-timeout", type=float, default=5.0,
                        help="seconds to connect upstream before the client is reset")
    parser.add_argument("--log", help="JSON-lines event log (default: stderr)")
    return parser.parse_args(argv)


class EventLog:
    """Writes one JSON object per event, flushed at once, and counts events.
    Not thread-safe: used from the event loop's thread only."""

    def __init__(self, path):
        self._file = open(path, "a", buffering=1) if path else sys.stderr
        self._start = time.monotonic()
        self.counts = {}
        self.delays = {"chunks_delayed": 0, "delay_seconds": 0.0}

    def write(self, event, **fields):
        self.counts[event] = self.counts.get(event, 0) + 1
        line = {"t": round(time.monotonic() - self._start, 3), "event": event, **fields}
        self._file.write(json.dumps(line) + "\n")


def seconds_until(rng, per_second):
    """Waiting time of an event with the given chance per second (a Poisson
    process); math.inf when the chance is 0."""
    if per_second <= 0:
        return math.inf
    return rng.expovariate(-math.log(1.0 - per_second))


def abort_with_rst(writer):
    """Closes the writer's socket at once with SO_LINGER 0: the peer gets RST."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # Already closed.
    writer.transport.abort()


class Connection:
    """One proxied connection: two pumps and a fault timer. run() returns when
    both directions are closed or the connection was reset."""

    def __init__(self, number, args, log, client_reader, client_writer):
        self.number = number
        self.args = args
        self.log = log
        self.timer_rng = random.Random(f"{args.seed}/{number}/timer")
        self.chunk_rng = {d: random.Random(f"{args.seed}/{number}/{d}") for d in (UP, DOWN)}
        self.client = (client_reader, client_writer)
        self.upstream = None
        self.bytes = {UP: 0, DOWN: 0}
        self.dropped = {UP: 0, DOWN: 0}
        self.half_open = None  # UP or DOWN once a direction is cut.
        self.done = False

    async def run(self):
        try:
            self.upstream = await asyncio.wait_for(
                asyncio.open_connection(*self.args.upstream), self.args.connect_timeout)
        except (OSError, asyncio.TimeoutError) as error:
            self.log.write("connect_failed", conn=self.number, error=repr(error))
            abort_with_rst(self.client[1])
            return
        self.log.write("connect", conn=self.number)
        pumps = [asyncio.create_task(self.pump(UP, self.client[0], self.upstream[1])),
                 asyncio.create_task(self.pump(DOWN, self.upstream[0], self.client[1]))]
        faults = asyncio.create_task(self.inject_timed_faults())
        try:
            await asyncio.gather(*pumps)
        finally:
            faults.cancel()
            for task in pumps:
                task.cancel()
        if not self.done:
            self.done = True
            for writer in (self.client[1], self.upstream[1]):
                writer.close()
            self.log.write("close", conn=self.number, bytes=self.bytes, dropped=self.dropped)

    def reset(self, cause):
        """Resets both peers (RST); the pumps then end."""
        if self.done:
            return
        self.done = True
        self.log.write("reset", conn=self.number, cause=cause, bytes=self.bytes,
                       dropped=self.dropped)
        abort_with_rst(self.client[1])
        if self.upstream is not None:
            abort_with_rst(self.upstream[1])

    async def pump(self, direction, reader, writer):
        """Copies reader to writer with the chunk faults until EOF (passed on
        as a half-close) or an error (passed on as a reset)."""
        args, rng, stats = self.args, self.chunk_rng[direction], self.log.delays
        try:
            while not self.done:
                data = await reader.read(CHUNK_BYTES)
                if not data:
                    if not self.done and writer.can_write_eof():
                        writer.write_eof()
                    return
                if args.reset_per_chunk > 0 and rng.random() < args.reset_per_chunk:
                    self.reset(f"chunk ({direction})")
                    return
                if self.half_open == direction:
                    self.dropped[direction] += len(data)
                    continue
                delay_ms = args.delay_ms + rng.uniform(0, args.jitter_ms)
                if delay_ms > 0:
                    stats["chunks_delayed"] += 1
                    stats["delay_seconds"] += delay_ms / 1000.0
                    await asyncio.sleep(delay_ms / 1000.0)
                if self.done:
                    return
                writer.write(data)
                await writer.drain()
                self.bytes[direction] += len(data)
        except (OSError, asyncio.IncompleteReadError) as error:
            self.reset(f"peer error ({direction}): {error!r}")

    async def inject_timed_faults(self):
        """Resets and half-opens at random times of the connection's life."""
        args = self.args
        loop = asyncio.get_running_loop()
        start = loop.time()
        reset_at = start + seconds_until(self.timer_rng, args.reset_per_second)
        half_open_at = start + seconds_until(self.timer_rng, args.half_open_per_second)
        give_up_at = math.inf  # When a half-open connection is reset.
        while not self.done:
            next_at = min(reset_at, half_open_at, give_up_at)
            if next_at == math.inf:
                return
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if self.done:
                return
            if next_at == reset_at:
                self.reset("random")
                return
            if next_at == give_up_at:
                self.reset("half-open timeout")
                return
            self.start_half_open()
            half_open_at = math.inf
            if args.half_open_seconds > 0:
                give_up_at = loop.time() + args.half_open_seconds

    def start_half_open(self):
        direction = self.args.half_open_direction
        if direction == "random":
            direction = self.timer_rng.choice([UP, DOWN])
        self.half_open = direction
        self.log.write("half_open", conn=self.number, direction=direction, bytes=self.bytes)


async def serve(args):
    log = EventLog(args.log)
    connections = set()
    counter = iter(range(1, 1 << 62))

    async def accept(reader, writer):
        number = next(counter)
        log.write("accept", conn=number, peer=str(writer.get_extra_info("peername")))
        connection = Connection(number, args, log, reader, writer)
        connections.add(connection)
        try:
            await connection.run()
        finally:
            connections.discard(connection)

    server = await asyncio.start_server(accept, *args.listen, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    log.write("listening", host=args.listen[0], port=port, upstream=list(args.upstream),
              seed=args.seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    for connection in list(connections):
        connection.reset("proxy stopping")
    log.write("summary", counts=dict(log.counts), chunks_delayed=log.delays["chunks_delayed"],
              delay_seconds=round(log.delays["delay_seconds"], 3))


def main(argv):
    args = parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
