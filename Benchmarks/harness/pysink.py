#!/usr/bin/env python3
"""A Python twin of track-sink (SINK=python in Benchmarks/run.sh): the same flags, counters and
stats file, in asyncio with a regular-expression id scan. It tops out at a few hundred thousand
events/s and shares the cores with the shipper, which is why the benchmark uses the Swift sink by
default; it is kept to compare with figures measured against a Python sink.
"""
import argparse
import asyncio
import gzip
import json
import os
import random
import re
import resource
import signal
import sys
import time
import zlib

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           429: "Too Many Requests", 503: "Service Unavailable"}


def atomic_write(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


class Counts:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.id_pattern = re.compile(rb'"%s"\s*:\s*"?(\d+)' % re.escape(a.id_key.encode()))
        self.seen = bytearray(max(a.expect, 1 << 16))
        self.arrivals = [0] * a.expect if a.arrivals_file else None
        self.n = dict(requests=0, accepted=0, rejected_503=0, rejected_429=0, unauthorized=0, not_found=0,
                      bad_request=0, connections=0, events=0, unique=0, duplicates=0, unexpected=0, no_id=0,
                      out_of_range=0, bytes=0, bytes_decoded=0, max_batch=0)
        self.unique_expected = 0
        self.times = dict(first_request_at=None, first_event_at=None, last_event_at=None, complete_at=None)
        self.sampled = False

    def admit(self, method, path, auth, size):
        n = self.n
        n["requests"] += 1
        n["bytes"] += size
        if self.times["first_request_at"] is None:
            self.times["first_request_at"] = time.time()
        if path.split(b"?")[0] != self.a.path.encode():
            n["not_found"] += 1
            return 404
        if method != b"POST":
            return 405
        if self.a.token and auth != b"Bearer " + self.a.token.encode():
            n["unauthorized"] += 1
            return 401
        if self.a.rate_429 and self.rng.random() < self.a.rate_429:
            n["rejected_429"] += 1
            return 429
        if self.a.fail_rate and self.rng.random() < self.a.fail_rate:
            n["rejected_503"] += 1
            return 503
        return 200

    def record(self, body):
        n = self.n
        now = time.time()
        if not self.sampled and self.a.sample_file:
            atomic_write(self.a.sample_file, body[:65536])
            self.sampled = True
        n["accepted"] += 1
        n["bytes_decoded"] += len(body)
        ids = [int(m) for m in self.id_pattern.findall(body)]
        n["events"] += len(ids)
        n["max_batch"] = max(n["max_batch"], len(ids))
        if ids:
            self.times["first_event_at"] = self.times["first_event_at"] or now
            self.times["last_event_at"] = now
        seen, expect = self.seen, self.a.expect
        for i in ids:
            if i >= 1 << 28:
                n["out_of_range"] += 1
                continue
            if i >= len(seen):
                seen.extend(bytes(max(i + 1 - len(seen), len(seen))))
            if seen[i]:
                n["duplicates"] += 1
                continue
            seen[i] = 1
            n["unique"] += 1
            if i < expect:
                self.unique_expected += 1
                if self.arrivals is not None:
                    self.arrivals[i] = int(now * 1e9)
            else:
                n["unexpected"] += 1
        if expect and self.times["complete_at"] is None and self.unique_expected == expect:
            self.times["complete_at"] = now
            self.write(final=False)

    def stats(self, final):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out = {"final": final, "now": time.time(), "expect": self.a.expect, **self.n,
               "lost": self.a.expect - self.unique_expected, **self.times,
               "sink_cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "sink_maxrss_kb": usage.ru_maxrss}
        return json.dumps(out).encode() + b"\n"

    def write(self, final):
        if self.a.stats_file:
            atomic_write(self.a.stats_file, self.stats(final))
        if final and self.arrivals is not None:
            import array
            atomic_write(self.a.arrivals_file, array.array("q", self.arrivals).tobytes())


class Http(asyncio.Protocol):
    def __init__(self, counts):
        self.counts = counts
        self.buffer = bytearray()
        self.head = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.counts.n["connections"] += 1

    def data_received(self, data):
        self.buffer += data
        while self.step():
            pass

    def step(self):
        """Handles one request if it is complete; returns True to look for the next."""
        if self.head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            lines = bytes(self.buffer[:end]).split(b"\r\n")
            del self.buffer[:end + 4]
            method, path, version = (lines[0].split(b" ") + [b"", b""])[:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                self.reply(400, b"", close=True)  # the shippers measured here send Content-Length
                return False
            if headers.get(b"expect", b"").lower() == b"100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            keep = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
            self.head = (method, path, headers, int(headers.get(b"content-length", b"0") or 0), keep)
        method, path, headers, length, keep = self.head
        if len(self.buffer) < length:
            return False
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        self.head = None
        self.answer(method, path, headers, body, keep)
        return keep

    def answer(self, method, path, headers, body, keep):
        counts = self.counts
        if method == b"GET" and path == b"/stats":
            return self.reply(200, counts.stats(False), close=not keep)
        status = counts.admit(method, path, headers.get(b"authorization", b""), len(body))
        extra = b""
        if status == 429:
            extra = b"Retry-After: %d\r\n" % counts.a.retry_after
        if status == 200:
            encoding = headers.get(b"content-encoding", b"").lower()
            try:
                if encoding in (b"gzip", b"deflate"):
                    body = zlib.decompress(body, 47)
                counts.record(body)
            except (zlib.error, ValueError):
                counts.n["bad_request"] += 1
                status = 400
        payload = b'{"success":true}' if status == 200 else b'{"success":false}'
        if counts.a.latency_ms:
            asyncio.get_running_loop().call_later(counts.a.latency_ms / 1000.0, self.reply, status, payload,
                                                  not keep, extra)
        else:
            self.reply(status, payload, not keep, extra)

    def reply(self, status, payload, close=False, extra=b""):
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s%s\r\n%s" % (
            status, REASONS.get(status, "Error").encode(), len(payload), extra,
            b"Connection: close\r\n" if close else b"", payload))
        if close:
            self.transport.close()

    def connection_lost(self, exc):
        self.transport = None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path", default="/api/track")
    ap.add_argument("--token", default="bench-token")
    ap.add_argument("--id-key", default="seq")
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--429-rate", dest="rate_429", type=float, default=0.0)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats-file", default="")
    ap.add_argument("--ready-file", default="")
    ap.add_argument("--arrivals-file", default="")
    ap.add_argument("--sample-file", default="")
    ap.add_argument("--max-seconds", type=float, default=0.0)
    a = ap.parse_args()
    counts = Counts(a)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(lambda: Http(counts), "127.0.0.1", a.port))
    port = server.sockets[0].getsockname()[1]
    if a.ready_file:
        atomic_write(a.ready_file, b"%d\n" % port)
    print("pysink: listening on http://127.0.0.1:%d%s" % (port, a.path), file=sys.stderr, flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    if a.max_seconds:
        loop.call_later(a.max_seconds, lambda: stop.done() or stop.set_result(None))
    loop.run_until_complete(stop)
    server.close()
    counts.write(final=True)
    n = counts.n
    print("pysink: requests=%d accepted=%d events=%d unique=%d duplicates=%d lost=%d" % (
        n["requests"], n["accepted"], n["events"], n["unique"], n["duplicates"], a.expect - counts.unique_expected),
        file=sys.stderr)


if __name__ == "__main__":
    main()
