#!/usr/bin/env python3
"""Thousands of files (started by `Benchmarks/run.sh files`, which builds the binary).

Writes --files files of 10 NDJSON lines each into a fresh folder, starts the release tracktail on
them with the stdout output (its stdout is a file this runner reads), and measures four phases:

  startup   from starting tracktail until every line of every file is on its stdout
  append    one new line appended to every file (idle, mostly closed for max_open_files)
  idle      one line appended to one of the idle files, several times: the latency of each
  restart   SIGTERM; one more line appended to every file while stopped; start again; until
            every new line is out (and how many old lines were sent again)

For each: seconds, CPU seconds of tracktail (utime + stime from /proc), and its peak RSS
(VmHWM). Prints one JSON line (stdout) and a table (stderr). Bounded by --timeout per phase.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench import note, proc_cpu_seconds, proc_hwm_kb, proc_status_kb

CONFIG = """\
[state]
directory = "{state}"

[[input]]
name = "many"
type = "file"
paths = ["{logs}/*.log"]
start_at = "beginning"

[[rule]]
name = "all"
event_name = "{{event}}"
user_id = "{{uid}}"
timestamp = "{{ts}}"
timestamp_unit = "ms"
properties = {{ n = "{{n}}" }}

[output]
type = "stdout"
{limits}
"""
SEQ = re.compile(rb'"n":"?(\d+)')


def proc_rss_kb(pid):
    return proc_status_kb(pid, b"VmRSS:")


def line(n):
    return b'{"event":"bench_event","uid":"u%d","ts":1700000000000,"n":%d}\n' % (n % 97, n)


class Output:
    """tracktail's stdout, read as it grows: distinct sequence numbers and duplicates."""

    def __init__(self, path, capacity):
        self.path = path
        self.offset = 0
        self.rest = b""
        self.seen = bytearray(capacity)
        self.unique = 0
        self.duplicates = 0

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        self.offset += len(data)
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.rest = data[cut:]
        for m in SEQ.finditer(data, 0, cut):
            n = int(m.group(1))
            if n >= len(self.seen):
                self.seen.extend(bytearray(n + 1 - len(self.seen)))
            if self.seen[n]:
                self.duplicates += 1
            else:
                self.seen[n] = 1
                self.unique += 1

    def has(self, n):
        return n < len(self.seen) and self.seen[n] == 1


class Daemon:
    def __init__(self, argv, out_path, log_path):
        self.out = open(out_path, "ab")
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.hwm_kb = 0
        self.cpu = 0.0

    def sample(self):
        cpu = proc_cpu_seconds(self.proc.pid)
        if cpu is not None:
            self.cpu = cpu
            self.hwm_kb = max(self.hwm_kb, proc_hwm_kb(self.proc.pid))
        return self.cpu

    def stop(self, timeout=30):
        self.sample()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        self.out.close()
        self.log.close()
        return code


def wait_for(out, daemon, done, timeout):
    """Polls every 20 ms until done(); returns seconds waited, or None at the timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        out.poll()
        daemon.sample()
        if done():
            return time.monotonic() - start
        if daemon.proc.poll() is not None:
            return None
        time.sleep(0.02)
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tracktail", required=True)
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--lines", type=int, default=10, help="lines per file at start")
    p.add_argument("--timeout", type=float, default=300, help="seconds per phase")
    p.add_argument("--idle-probes", type=int, default=3)
    p.add_argument("--max-open-files", type=int, default=0, help="0: tracktail's default")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--out")
    args = p.parse_args()

    run = tempfile.mkdtemp(prefix="tracktail-files-")
    logs = os.path.join(run, "logs")
    os.makedirs(logs)
    n, k = args.files, args.lines
    paths = [os.path.join(logs, "f%06d.log" % i) for i in range(n)]
    note("writing %d files of %d lines in %s" % (n, k, run))
    for i, path in enumerate(paths):
        with open(path, "wb") as f:
            f.write(b"".join(line(i * k + j) for j in range(k)))
    limits = "[limits]\nmax_open_files = %d\n" % args.max_open_files if args.max_open_files else ""
    conf = os.path.join(run, "tracktail.toml")
    with open(conf, "w") as f:
        f.write(CONFIG.format(state=os.path.join(run, "state"), logs=logs, limits=limits))
    total = n * (k + 2) + args.idle_probes
    out = Output(os.path.join(run, "stdout.ndjson"), total)
    argv = [args.tracktail, "run", "--config", conf]
    log = os.path.join(run, "tracktail.log")
    result = {"files": n, "lines_per_file": k}
    ok = True

    def phase(name, daemon, seconds, cpu_before, extra=None):
        nonlocal ok
        r = {"s": None if seconds is None else round(seconds, 3), "cpu_s": round(daemon.sample() - cpu_before, 2),
             "peak_rss_mb": round(daemon.hwm_kb / 1024, 1)}
        r.update(extra or {})
        if seconds is None:
            ok = False
            r["timed_out"] = True
        result[name] = r
        note(name, json.dumps(r))

    # 1. Start-up: every line of every file.
    d = Daemon(argv, out.path, log)
    wait = wait_for(out, d, lambda: out.unique >= n * k, args.timeout)
    phase("startup", d, wait, 0.0)

    # 2. One new line per (idle) file.
    time.sleep(2)
    result["startup"]["settled_rss_mb"] = round(proc_rss_kb(d.proc.pid) / 1024, 1)
    cpu = d.sample()
    start = time.monotonic()
    for i, path in enumerate(paths):
        with open(path, "ab") as f:
            f.write(line(n * k + i))
    written = time.monotonic() - start
    wait = wait_for(out, d, lambda: out.unique >= n * (k + 1), args.timeout)
    phase("append", d, None if wait is None else written + wait, cpu,
          {"writing_s": round(written, 3), "after_writing_s": None if wait is None else round(wait, 3)})

    # 3. One line in one idle file, a few times (files spread over the set).
    latencies = []
    for probe in range(args.idle_probes):
        time.sleep(2)
        seq = n * (k + 2) + probe
        with open(paths[(probe * 7919 + n // 2) % n], "ab") as f:
            f.write(line(seq))
        wait = wait_for(out, d, lambda: out.has(seq), 30)
        latencies.append(None if wait is None else round(wait, 3))
    result["idle_line_s"] = latencies
    if None in latencies:
        ok = False
    note("idle_line_s", latencies)
    stopped = time.monotonic()
    code = d.stop()
    result["first_exit"] = code
    result["stop_s"] = round(time.monotonic() - stopped, 3)

    # 4. Restart with one more line in every file.
    for i, path in enumerate(paths):
        with open(path, "ab") as f:
            f.write(line(n * (k + 1) + i))
    before = out.duplicates
    d = Daemon(argv, out.path, log)
    wait = wait_for(out, d, lambda: out.unique >= n * (k + 2) + args.idle_probes, args.timeout)
    time.sleep(2)  # the first checkpoint after the restart
    out.poll()
    phase("restart", d, wait, 0.0, {"sent_again": out.duplicates - before,
                                    "settled_rss_mb": round(proc_rss_kb(d.proc.pid) / 1024, 1)})
    result["second_exit"] = d.stop()
    result["duplicates"] = out.duplicates
    result["ok"] = ok and out.duplicates == 0
    print(json.dumps(result), flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")

    def fmt(r):
        settled = " (%s MB settled)" % r["settled_rss_mb"] if "settled_rss_mb" in r else ""
        return "%s s, %s CPU-s, %s MB%s" % (r["s"], r["cpu_s"], r["peak_rss_mb"], settled)
    print("files %d: start-up %s | one new line per file %s | after restart %s | one idle line %s s | duplicates %d"
          % (n, fmt(result["startup"]), fmt(result["append"]), fmt(result["restart"]),
             "/".join(str(x) for x in latencies), out.duplicates), file=sys.stderr)
    if args.keep or not result["ok"]:
        note("run folder kept:", run)
    else:
        shutil.rmtree(run, ignore_errors=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
