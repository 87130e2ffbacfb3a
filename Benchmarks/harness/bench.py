#!/usr/bin/env python3
"""The tracktail benchmark runner (started by Benchmarks/run.sh, which builds the binaries).

Every run starts a fresh fake Track API (track-sink) on an ephemeral 127.0.0.1 port, renders
the shipper's configuration template into a fresh folder, starts the shipper and measures it:

  backlog  a pre-written file of --events lines exists before the shipper starts; the run ends
           when the sink holds every one of them (unique ids 0..N-1).
  faults   backlog, with 5% of requests answered 503 (no Retry-After).
  live     the shipper starts on an empty file; this runner appends --rate lines/s for
           --duration s; lag = arrival at the sink - write to the file, per line.
  sink     no shipper: sink-load (a client that only replays prepared requests) posts
           --events events to the sink, to show the sink's own ceiling.

Prints one JSON line per run (stdout), then a table of medians per shipper. Every run is
bounded in time (--timeout) and stops its processes itself.
"""
import argparse
import array
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import lines as linegen

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
TICKS = os.sysconf("SC_CLK_TCK")
TOKEN = "bench-token"
KNOB = re.compile(r"\{([a-z_][a-z0-9_]*)=([^{}\s]*)\}")


def note(*parts):
    print("[bench]", *parts, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ shippers
class Shipper:
    """How to start one shipper: a configuration template and a command line."""

    def __init__(self, name, template, command, env=None):
        self.name = name
        self.template = template
        self.command = command  # function(config_path, state_dir) -> argv
        self.env = env or {}


def shippers(args):
    found = {}
    for peer in args.peers:  # syslog-ng lives in /usr/sbin, which a user's PATH may lack
        found[peer] = shutil.which(peer, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin:/sbin")
    known = {
        "tracktail": Shipper(
            "tracktail", os.path.join(BENCH, "tracktail.toml"),
            lambda conf, state: [args.tracktail, "run", "--config", conf],
            {"TRACKTAIL_TOKEN": TOKEN}),
        "syslog-ng": Shipper(
            "syslog-ng", os.path.join(BENCH, "peers", "syslog-ng.conf"),
            lambda conf, state: [found.get("syslog-ng"), "--foreground", "--no-caps", "--cfgfile", conf,
                                 "--persist-file", os.path.join(state, "syslog-ng.persist"),
                                 "--pidfile", os.path.join(state, "syslog-ng.pid"),
                                 "--control", os.path.join(state, "syslog-ng.ctl")]),
    }
    chosen = [known["tracktail"]]
    for peer in args.peers:
        if peer not in known or peer == "tracktail":
            raise SystemExit("unknown peer %r (known: syslog-ng)" % peer)
        if not found[peer]:
            note("%s is not installed: skipped" % peer)
            continue
        chosen.append(known[peer])
    return chosen


def render(text, values, knobs):
    """Fills {name} for the run's values and {knob=default} with --set knob=value or the default.
    Anything else in braces (tracktail's own templates, syslog-ng's ${macros}) is left alone."""
    for key, value in values.items():
        text = text.replace("{%s}" % key, str(value))
    return KNOB.sub(lambda m: knobs.get(m.group(1), m.group(2)), text)


# ------------------------------------------------------------------ processes
def proc_cpu_seconds(pid):
    """utime + stime of the process (all its threads) and of its reaped children, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def proc_context_switches(pid):
    """Voluntary + involuntary context switches summed over the process's threads, or None."""
    total = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for task in tasks:
        try:
            with open("/proc/%d/task/%s/status" % (pid, task), "rb") as f:
                for line in f:
                    if line.startswith(b"voluntary_ctxt_switches:") or line.startswith(b"nonvoluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass  # a thread that ended meanwhile
    return total


def interrupt(proc):
    """Ctrl-C for a tracer (it then writes its report), killed if it has not ended in 30 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Strace:
    """`strace -c -f` attached to the shipper for the measured part of a run (STRACE=1): system
    calls per 1,000 events, and the top calls. strace slows the traced process: read counts
    from such a run, not its times."""

    def __init__(self, pid, run_dir):
        self.path = os.path.join(run_dir, "strace.txt")
        self.proc = subprocess.Popen(["strace", "-c", "-f", "-o", self.path, "-p", str(pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(0.3)  # let it attach to every thread

    def finish(self):
        """Stops tracing; returns (total calls, {call: count}) from strace's summary."""
        interrupt(self.proc)
        calls, total = {}, None
        try:
            with open(self.path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                        calls[parts[-1]] = int(parts[3])
                    elif parts and parts[-1] == "total" and len(parts) >= 4:
                        total = int(parts[3])
        except (OSError, ValueError):
            pass
        return total, calls


def proc_status_kb(pid, field):
    """A kB figure of /proc/PID/status (field like b"VmHWM:"), 0 when the process is gone."""
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_hwm_kb(pid):
    return proc_status_kb(pid, b"VmHWM:")


class Watched:
    """A shipper process: CPU and peak RSS read from /proc while it lives, rusage when reaped."""

    def __init__(self, argv, env, log_path):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.cpu = 0.0
        self.hwm_kb = 0
        self.rusage = None
        self.status = None

    def sample(self):
        """Latest CPU seconds (kept from the last reading once the process is gone)."""
        cpu = proc_cpu_seconds(self.pid)
        if cpu is not None and self.rusage is None:
            self.cpu = cpu
            self.hwm_kb = max(self.hwm_kb, proc_hwm_kb(self.pid))
        return self.cpu

    def exited(self):
        if self.rusage is not None:
            return True
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.status, self.rusage = os.waitstatus_to_exitcode(status), usage
        self.proc.returncode = self.status
        return True

    def stop(self, timeout):
        """SIGTERM, then SIGKILL to the whole session after `timeout` s. Returns 'exit N' or 'killed'."""
        self.sample()
        outcome = None
        if not self.exited():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not self.exited():
                time.sleep(0.02)
            if not self.exited():
                outcome = "killed"
                try:  # the session this runner started for it (its leader is still alive)
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                while not self.exited():
                    time.sleep(0.02)
        self.log.close()
        return outcome or "exit %s" % self.status


def sink_command(args):
    if args.sink == "fast":
        return [args.sink_bin]
    return [sys.executable, os.path.join(HERE, "pysink.py")]


def stop_sink(sink):
    """SIGTERM (the sink then writes its final stats), SIGKILL after 10 s; returns its rusage."""
    sink.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while True:
        pid, status, usage = os.wait4(sink.pid, os.WNOHANG)
        if pid:
            sink.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.monotonic() > deadline:
            sink.kill()
            deadline = float("inf")
        time.sleep(0.02)


class Profiler:
    """`perf record -g` attached to the shipper for the measured part of a run (PROFILE=1)."""

    def __init__(self, pid, run_dir):
        self.data = os.path.join(run_dir, "perf.data")
        self.report = os.path.join(run_dir, "profile.txt")
        self.log = open(os.path.join(run_dir, "perf.log"), "wb")
        self.proc = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", self.data, "-p", str(pid)],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def finish(self):
        """Stops recording; returns the top symbols (self time) as "12.3% symbol" strings."""
        interrupt(self.proc)
        self.log.close()
        with open(self.report, "w") as out:
            subprocess.run(["perf", "report", "-i", self.data, "--stdio", "--no-children", "--sort", "symbol",
                            "-g", "none", "--percent-limit", "0.5"], stdout=out, stderr=subprocess.DEVNULL,
                           timeout=120, check=False)
        shares, symbols = [], []
        with open(self.report) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0].endswith("%") and not line.startswith("#"):
                    shares.append(parts[0])
                    symbols.append(parts[2])
                    if len(shares) == 10:
                        break
        if shutil.which("swift"):  # Swift symbols are mangled in the report
            try:
                out = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(symbols),
                                     capture_output=True, text=True, timeout=30).stdout.splitlines()
                symbols = out if len(out) == len(symbols) else symbols
            except (OSError, subprocess.SubprocessError):
                pass
        return ["%s %s" % (share, symbol[:100]) for share, symbol in zip(shares, symbols)]


def read_json(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def tail(path, count=20):
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read()[-4000:].decode("utf-8", "replace").splitlines()[-count:])
    except OSError:
        return ""


# ------------------------------------------------------------------ inputs
def backlog_file(args, count):
    """The cached backlog of `count` lines (same seed, same bytes)."""
    os.makedirs(args.cache, exist_ok=True)
    path = os.path.join(args.cache, "backlog-v%d-%d-seed%d.ndjson" % (linegen.VERSION, count, args.seed))
    if not os.path.exists(path):
        note("writing a backlog of %d lines to %s" % (count, path))
        part = "%s.%d.part" % (path, os.getpid())
        linegen.write_backlog(part, count, args.seed)
        os.replace(part, path)
    return path


def write_live(path, rate, duration, seed):
    """Appends rate*duration lines at a steady rate; returns the write time of each line."""
    total = int(round(rate * duration))
    written_at = array.array("d", bytes(8 * total))
    maker = linegen.Lines(seed)
    clock = linegen.Clock()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    began = time.time()
    done = 0
    try:
        while done < total:
            now = time.time()
            due = min(total, int((now - began) * rate) + 1)
            if due > done:
                stamp = clock.text(int(now * 1000))
                text = "".join(maker.line(seq, stamp) for seq in range(done, due))
                os.write(fd, text.encode("ascii"))
                after = time.time()
                for seq in range(done, due):
                    written_at[seq] = after
                done = due
            time.sleep(min(max(began + done / rate - time.time(), 0.001), 0.005))
    finally:
        os.close(fd)
    return written_at, time.time() - began


def percentile(ordered, p):
    if not ordered:
        return None
    k = (len(ordered) - 1) * p / 100.0
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


# ------------------------------------------------------------------ one run
def one_run(args, shipper, mode, count, index, warmup=False):
    run_dir = tempfile.mkdtemp(prefix="%s-%s-%d-" % (shipper.name, mode, index), dir=args.workdir)
    state_dir = os.path.join(run_dir, "state")
    os.makedirs(state_dir)
    result = {"name": shipper.name, "mode": mode, "run": index, "warmup": warmup, "events": count,
              "sink": args.sink}
    if args.knobs:
        result["set"] = args.knobs
    if mode == "live":
        input_path = os.path.join(run_dir, "logs", "app.log")
        os.makedirs(os.path.dirname(input_path))
        open(input_path, "wb").close()
    else:
        input_path = backlog_file(args, count)

    # The sink.
    stats_path = os.path.join(run_dir, "sink-stats.json")
    ready_path = os.path.join(run_dir, "sink-port")
    arrivals_path = os.path.join(run_dir, "arrivals.bin")
    sink_argv = sink_command(args) + ["--port", "0", "--token", TOKEN, "--expect", str(count),
                 "--stats-file", stats_path, "--ready-file", ready_path,
                 "--sample-file", os.path.join(run_dir, "first-request-body.json"),
                 "--max-seconds", str(int(args.timeout + args.duration + 120))]
    faults = list(args.sink_args)
    if mode == "faults":
        faults = ["--fail-rate", "0.05"] + faults
    if faults:
        result["faults"] = " ".join(faults)
    if mode == "live":
        sink_argv += ["--arrivals-file", arrivals_path]
    sink_log = open(os.path.join(run_dir, "sink.log"), "wb")
    sink = subprocess.Popen(sink_argv + faults, stdout=sink_log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(ready_path) and time.monotonic() < deadline and sink.poll() is None:
        time.sleep(0.01)
    if not os.path.exists(ready_path):
        sink.kill()
        raise SystemExit("the sink did not start:\n" + tail(os.path.join(run_dir, "sink.log")))
    port = open(ready_path).read().strip()
    sink_url = "http://127.0.0.1:%s/api/track" % port

    # The shipper.
    values = {"input": input_path, "input_dir": os.path.dirname(input_path),
              "input_name": os.path.basename(input_path), "sink_url": sink_url, "token": TOKEN,
              "state_dir": state_dir}
    config_path = os.path.join(run_dir, os.path.basename(shipper.template))
    with open(shipper.template) as f:
        text = render(f.read(), values, args.knobs)
    with open(config_path, "w") as f:
        f.write(text)
    env = dict(os.environ, **shipper.env)
    log_path = os.path.join(run_dir, "shipper.log")
    started = time.time()
    ship = Watched(shipper.command(config_path, state_dir), env, log_path)
    profiler = Profiler(ship.pid, run_dir) if args.profile and shipper.name == "tracktail" and not warmup else None
    tracer = None
    error = None
    stats = None
    cpu_begin = 0.0
    switches_begin = None
    began = started
    written_at = None
    try:
        if mode == "live":
            time.sleep(args.settle)
            if ship.exited():
                raise RuntimeError("shipper exited while settling (%s)" % ship.status)
            if args.strace and not warmup:
                tracer = Strace(ship.pid, run_dir)
            cpu_begin = ship.sample()
            switches_begin = proc_context_switches(ship.pid)
            result["idle_cpu_s"] = round(cpu_begin, 3)
            began = time.time()
            written_at, write_s = write_live(input_path, args.rate, args.duration, args.seed)
            result["rate"] = args.rate
            result["duration"] = args.duration
            result["write_s"] = round(write_s, 2)
            deadline = time.time() + args.drain
        else:
            deadline = started + args.timeout
            switches_begin = 0
            if args.strace and not warmup:
                tracer = Strace(ship.pid, run_dir)
        while time.time() < deadline:
            ship.sample()
            stats = read_json(stats_path)
            if stats and stats.get("complete_at"):
                break
            stats = None
            if ship.exited():
                error = "the shipper exited early (%s)" % ship.status
                break
            time.sleep(0.02)
        cpu_done = ship.sample()
        switches_done = proc_context_switches(ship.pid)
        if switches_done is not None and switches_begin is not None and count:
            result["ctx_switches_per_1k"] = round((switches_done - switches_begin) * 1000.0 / count, 1)
        if tracer:
            total, calls = tracer.finish()
            tracer = None
            if total and count:
                result["syscalls_per_1k"] = round(total * 1000.0 / count, 1)
                result["syscalls_top_per_1k"] = {name: round(n * 1000.0 / count, 1) for name, n in
                                                 sorted(calls.items(), key=lambda kv: -kv[1])[:8]}
        if profiler:
            result["profile_top"] = profiler.finish()
            result["profiled"] = True  # perf's sampling adds to the CPU figures of this run
        if stats is None and error is None:
            error = "timeout: not every event arrived"
        if stats:
            complete = stats["complete_at"]
            if mode == "live":
                result["cpu_pct_of_core"] = round(100.0 * (cpu_done - cpu_begin) / max(complete - began, 1e-9), 2)
            else:
                result["events_per_s"] = round(count / (complete - started))
                result["wall_s"] = round(complete - started, 3)
                if stats.get("first_event_at"):
                    result["first_event_s"] = round(stats["first_event_at"] - started, 3)
        result["cpu_s"] = round(cpu_done - cpu_begin, 3)
        result["cpu_s_per_1M"] = round(result["cpu_s"] * 1e6 / count, 3) if count else None
        time.sleep(args.grace)  # late duplicates
        ship.sample()
    except Exception as failure:  # noqa: BLE001 - reported in the run's line
        error = str(failure)
    finally:
        if tracer:
            tracer.finish()
        result["shipper_stop"] = ship.stop(15)
        sink_usage = stop_sink(sink)
        sink_log.close()

    final = read_json(stats_path) or {}
    if ship.rusage is not None:
        usage = ship.rusage
        result["cpu_total_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    # VmHWM, read while the process lives: wait4's ru_maxrss would also count the runner's own
    # memory, which the child shared between fork and exec.
    result["peak_rss_mb"] = round(ship.hwm_kb / 1024.0, 1) if ship.hwm_kb else None
    for key in ("requests", "accepted", "rejected_503", "rejected_429", "unique", "duplicates", "lost",
                "unexpected", "no_id", "max_batch", "connections", "bytes", "bytes_decoded"):
        result[key] = final.get(key)
    if final.get("accepted"):
        result["events_per_request"] = round(final.get("events", 0) / final["accepted"], 1)
    if sink_usage is not None:
        result["sink_cpu_s"] = round(sink_usage.ru_utime + sink_usage.ru_stime, 3)
    if written_at is not None and os.path.exists(arrivals_path):
        arrived = array.array("q")
        with open(arrivals_path, "rb") as f:
            arrived.frombytes(f.read())
        lags = sorted((arrived[i] / 1e9 - written_at[i]) * 1000.0
                      for i in range(min(len(arrived), len(written_at))) if arrived[i] and written_at[i])
        if lags:
            result["lag_ms"] = {p: round(percentile(lags, v), 1)
                                for p, v in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))}
    result["ok"] = error is None and final.get("lost") == 0
    if error:
        result["error"] = error
    if not result["ok"]:
        note("%s %s run failed (%s); kept %s; shipper log:\n%s" % (
            shipper.name, mode, error or "events lost", run_dir, tail(log_path)))
        result["run_dir"] = run_dir
    elif not args.keep and not profiler:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        result["run_dir"] = run_dir
    return result


def sink_ceiling(args):
    """The sink alone (SINK=fast or python), driven by sink-load over 2 connections with
    500-event requests."""
    path = backlog_file(args, min(args.events, 200_000))
    run_dir = tempfile.mkdtemp(prefix="sink-", dir=args.workdir)
    stats_path = os.path.join(run_dir, "stats.json")
    ready_path = os.path.join(run_dir, "port")
    sink = subprocess.Popen(sink_command(args) + ["--port", "0", "--stats-file", stats_path, "--ready-file", ready_path,
                             "--max-seconds", "300"], stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(ready_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    port = open(ready_path).read().strip()
    load = subprocess.run([args.load_bin, port, path, str(args.events), "500", "2"], capture_output=True,
                          text=True, timeout=300)
    stop_sink(sink)
    stats = read_json(stats_path) or {}
    client = json.loads(load.stdout.strip().splitlines()[-1]) if load.stdout.strip() else {}
    cpu = stats.get("sink_cpu_s") or 0
    result = {"name": "track-sink" if args.sink == "fast" else "pysink", "mode": "sink",
              "events": stats.get("events"),
              "events_per_s": client.get("events_per_s"), "sink_cpu_s": cpu,
              "sink_cpu_s_per_1M": round(cpu * 1e6 / max(stats.get("events") or 1, 1), 3),
              "events_per_sink_cpu_s": round((stats.get("events") or 0) / cpu) if cpu else None,
              "requests": stats.get("requests"), "ok": bool(client.get("ok")) and load.returncode == 0}
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


# ------------------------------------------------------------------ summary
def median(runs, key, sub=None):
    values = []
    for run in runs:
        value = run.get(key)
        if sub is not None and isinstance(value, dict):
            value = value.get(sub)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values.append(value)
    return statistics.median(values) if values else None


def table(results):
    def fmt(value, pattern="{:,.0f}"):
        return "-" if value is None else pattern.format(value)

    by_shipper = {}
    for run in results:
        if not run["warmup"]:
            by_shipper.setdefault((run["name"], run["mode"], run["sink"]), []).append(run)
    rows = []
    for (name, mode, sink), runs in by_shipper.items():
        ok = sum(1 for r in runs if r["ok"])
        lost = max((r.get("lost") or 0) for r in runs)
        dupes = max((r.get("duplicates") or 0) for r in runs)
        if mode == "live":
            speed = "%s/s" % fmt(runs[0].get("rate"))
            extra = "lag p50 %s ms, p99 %s ms, %s%% of a core, %s context switches per 1k lines" % (
                fmt(median(runs, "lag_ms", "p50"), "{:.0f}"), fmt(median(runs, "lag_ms", "p99"), "{:.0f}"),
                fmt(median(runs, "cpu_pct_of_core"), "{:.2f}"), fmt(median(runs, "ctx_switches_per_1k"), "{:.0f}"))
            if median(runs, "syscalls_per_1k") is not None:
                extra += ", %s system calls per 1k lines" % fmt(median(runs, "syscalls_per_1k"), "{:.0f}")
        else:
            speed = fmt(median(runs, "events_per_s"))
            extra = ""
        rows.append([name, mode, sink, "%d/%d" % (ok, len(runs)), speed, fmt(median(runs, "cpu_s_per_1M"), "{:.2f}"),
                     fmt(median(runs, "peak_rss_mb"), "{:.1f}"), fmt(median(runs, "requests")),
                     "%d / %d" % (lost, dupes), fmt(median(runs, "sink_cpu_s"), "{:.2f}"), extra])
    head = ["shipper", "mode", "sink", "ok", "events/s", "CPU-s/1M", "peak RSS MB", "requests", "lost / dup",
            "sink CPU-s", ""]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    out = []
    for row in [head] + rows:
        out.append("  ".join(str(c).ljust(w) if i < 3 or i == len(head) - 1 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    speeds = {key: median(runs, "events_per_s") for key, runs in by_shipper.items()}
    for (name, mode, sink), speed in speeds.items():
        clean = speeds.get((name, "backlog", sink))
        if mode == "faults" and speed and clean:
            faults = by_shipper[(name, mode, sink)][0].get("faults")
            out.append("%s with faults (%s): %.0f%% of its events/s without" % (name, faults, 100.0 * speed / clean))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modes", nargs="*", metavar="MODE", default=["backlog"],
                    help="backlog, faults, live (several run interleaved, e.g. 'backlog faults'), or sink")
    ap.add_argument("--tracktail", help="the tracktail binary")
    ap.add_argument("--sink", choices=["fast", "python"], default="fast",
                    help="fast: track-sink (Swift); python: pysink.py, its slower twin")
    ap.add_argument("--sink-bin", help="the track-sink binary (for --sink fast)")
    ap.add_argument("--load-bin", help="the sink-load binary (for the sink mode)")
    ap.add_argument("--peers", default="", help="comma-separated shippers to run beside tracktail (syslog-ng)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=200_000, help="events of one unmeasured run per shipper first")
    ap.add_argument("--rate", type=float, default=5000.0, help="live: lines per second")
    ap.add_argument("--duration", type=float, default=30.0, help="live: seconds of writing")
    ap.add_argument("--settle", type=float, default=2.0, help="live: seconds between start and first line")
    ap.add_argument("--drain", type=float, default=30.0, help="live: seconds to wait after the last line")
    ap.add_argument("--timeout", type=float, default=0.0, help="backlog: seconds (default 60 + events/5000)")
    ap.add_argument("--grace", type=float, default=0.5, help="seconds to watch for late duplicates")
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                    help="value of a {knob=default} in the configuration templates")
    ap.add_argument("--sink-args", default="", help="extra track-sink flags, e.g. '--429-rate 0.05'")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tracktail-bench"))
    ap.add_argument("--keep", action="store_true", help="keep every run's folder (configs, logs, state)")
    ap.add_argument("--profile", action="store_true",
                    help="record tracktail with perf -g during measured runs; keeps perf.data and profile.txt")
    ap.add_argument("--strace", action="store_true",
                    help="count tracktail's system calls with strace -c -f during measured runs")
    ap.add_argument("--out", help="append every result line (JSON) to this file")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C, so every run's `finally` stops the shipper and the sink.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.peers = [p for p in args.peers.replace(",", " ").split() if p]
    args.knobs = dict(kv.split("=", 1) for kv in args.set)
    args.sink_args = args.sink_args.split()
    if not args.timeout:
        args.timeout = 60 + args.events / 5000
    if args.sink == "fast" and not args.sink_bin:
        raise SystemExit("--sink fast needs --sink-bin")
    modes = args.modes or ["backlog"]
    for mode in modes:
        if mode not in ("backlog", "faults", "live", "sink") or (mode == "sink" and len(modes) > 1):
            raise SystemExit("modes: backlog, faults, live (any of them), or sink alone; not %r" % mode)
    if modes != ["sink"] and not args.tracktail:
        raise SystemExit("--tracktail is needed")
    args.workdir = tempfile.mkdtemp(prefix="tracktail-bench-runs-")

    if modes == ["sink"]:
        result = sink_ceiling(args)
        print(json.dumps(result), flush=True)
        print("\n%s alone: %s events/s with sink-load on the same cores; %s events per CPU-second "
              "of the sink (its ceiling on one core)" % (result["name"], "{:,}".format(result["events_per_s"] or 0),
                                                         "{:,}".format(result["events_per_sink_cpu_s"] or 0)))
        os.rmdir(args.workdir)
        return 0 if result["ok"] else 1
    chosen = shippers(args)
    results = []

    def report(run):
        line = json.dumps(run)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")
        results.append(run)

    if args.warmup and modes != ["live"]:
        for shipper in chosen:
            report(one_run(args, shipper, "backlog", args.warmup, 0, warmup=True))
    for index in range(args.repeat):
        for mode in modes:  # interleaved, so that drift on the machine hits every run alike
            count = int(round(args.rate * args.duration)) if mode == "live" else args.events
            for shipper in chosen:
                report(one_run(args, shipper, mode, count, index))
    print()
    print(table(results), flush=True)
    for run in results:
        if run.get("profile_top"):
            print("\n%s %s run %d, self time (perf report in %s):\n  %s" % (
                run["name"], run["mode"], run["run"], run.get("run_dir"), "\n  ".join(run["profile_top"])))
    if not os.listdir(args.workdir):
        os.rmdir(args.workdir)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
