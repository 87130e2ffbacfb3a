import Posix
import Runtime
import Ship
import Synchronization

/// What `/metrics` and `/health` show, read from the running `Topology`.
///
/// A scrape reads relaxed atomics (the counters), takes the byte budget's and the shipper's
/// locks for one read each, copies the histogram under its own lock, and asks the tailer for
/// its checkpoint entries (a copy under the tailer's lock, with the tail hashes of the last
/// checkpoint write: no file is read under it) before it `stat`s each file with no lock held.
/// Nothing waits on the pipeline.
///
/// | metric (`tracktail_` prefix) | type | from |
/// |---|---|---|
/// | `lines_read_total` | counter | lines the mapper took from the inputs |
/// | `events_mapped_total` | counter | lines a rule turned into an event |
/// | `lines_dropped_total` | counter | lines a drop rule or `unmatched = "drop"` discarded |
/// | `lines_rejected_total` | counter | lines the mapper rejected (dead-lettered) |
/// | `events_shipped_total` | counter | events the API accepted |
/// | `requests_total` | counter | requests sent (retries and split halves included) |
/// | `dead_lettered_total` | counter | records written to the dead letter |
/// | `rejected_by_api_total` | counter | events the API rejected |
/// | `batch_splits_total` | counter | batches split to isolate rejected events |
/// | `retries_total{cause}` | counter | `4xx`, `5xx`, `transport` |
/// | `holds_total` | counter | times the output held (401/403/404, …) |
/// | `buffer_bytes` | gauge | read but not yet done (the byte budget in use) |
/// | `buffer_limit_bytes` | gauge | `[limits] buffer_bytes` |
/// | `lag_bytes{path}` | gauge | per checkpointed file: size − checkpointed offset |
/// | `sources` | gauge | files and pipes currently tracked |
/// | `pipe_spool_bytes{path}` | gauge | a pipe's spooled bytes not yet done |
/// | `pipe_spool_segments{path}` | gauge | its spool segment files |
/// | `pipe_spool_oldest_age_seconds{path}` | gauge | since the last write to its oldest unshipped segment |
/// | `pipe_spool_full{path}` | gauge | 1 while the spool is at its cap and the writers block |
/// | `inputs_unreadable` | gauge | file inputs with nothing readable (`InputHealth`) |
/// | `last_success_timestamp_seconds` | gauge | wall-clock time the output last accepted events (0: not yet) |
/// | `journal_checkpoint_timestamp_seconds{input}` | gauge | journal: time of the checkpointed entry |
/// | `journal_read_timestamp_seconds{input}` | gauge | journal: time of the last entry read |
/// | `journal_lag_seconds{input}` | gauge | journal: read minus checkpointed entry time (in flight) |
/// | `healthy` | gauge | 1 ok, 0 degraded (the reason is on `/health`) |
/// | `request_duration_seconds` | histogram | time inside `transport.post` |
/// | `up` | gauge | 1 while the daemon answers |
/// | `start_time_seconds` | gauge | wall-clock start, seconds since the epoch |
enum Metrics {
    /// When events were last delivered: the supervisor's loop notes it when the shipped count
    /// moves (a second's resolution is plenty for "nothing delivered for 15 minutes").
    final class LastSuccess: Sendable {
        private let wallNanoseconds = Atomic<Int64>(0)
        private let shipped = Atomic<Int>(0)
        func note(shipped count: Int, wallNow: Int64) {
            if shipped.exchange(count, ordering: .relaxed) != count && count > 0 { wallNanoseconds.store(wallNow, ordering: .relaxed) }
        }
        var seconds: Double { Double(wallNanoseconds.load(ordering: .relaxed) / 1_000_000) / 1e3 }
    }

    /// The endpoint's content for `topology`, started at `startedWall` (ns since the epoch).
    static func content(_ topology: Topology, inputs: InputHealth, lastSuccess: LastSuccess, startedWall: Int64) -> MetricsServer.Content {
        MetricsServer.Content(
            metrics: { exposition(topology, inputs: inputs, lastSuccess: lastSuccess, startedWall: startedWall) },
            health: {
                var reasons: [String] = []
                if case .degraded(let why) = topology.shipper.health { reasons.append(why) }
                let blocked = topology.tailer.blockedPipes
                if !blocked.isEmpty {
                    reasons.append("pipe spool full, writers block until events are delivered: \(blocked.joined(separator: ", "))")
                }
                if let f = inputs.failing.first {
                    let more = inputs.failing.count - 1
                    reasons.append("input \(f.input) has nothing readable: \(f.reason)\(more > 0 ? " (and \(more) more input\(more == 1 ? "" : "s"))" : "")")
                }
                return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
            })
    }

    static func exposition(_ topology: Topology, inputs: InputHealth, lastSuccess: LastSuccess, startedWall: Int64) -> String {
        let stats = topology.stats
        let ship = topology.shipper.counters.snapshot
        let health = topology.shipper.health
        let inputsOK = inputs.failing.isEmpty
        let latency = topology.shipper.counters.requestDuration.snapshot
        let lag = lagByFile(topology)

        var p = PrometheusText(reservingCapacity: 4096 + lag.count * 96)
        p.counter("tracktail_lines_read_total", help: "Lines read from the inputs and handed to the mapper.", stats.linesRead.load(ordering: .relaxed))
        p.counter("tracktail_events_mapped_total", help: "Lines a rule turned into an event.", stats.eventsMapped.load(ordering: .relaxed))
        p.counter("tracktail_lines_dropped_total", help: "Lines discarded on purpose (drop rules, unmatched = \"drop\").", stats.linesDropped.load(ordering: .relaxed))
        p.counter("tracktail_lines_rejected_total", help: "Lines the mapper rejected (not JSON, missing fields); they go to the dead letter.", stats.linesRejected.load(ordering: .relaxed))
        p.counter("tracktail_events_shipped_total", help: "Events the Track API accepted.", ship.eventsShipped)
        p.counter("tracktail_requests_total", help: "Requests sent to the output, retries and split halves included.", ship.requests)
        p.counter("tracktail_dead_lettered_total", help: "Records written to the dead letter.", ship.deadLettered)
        p.counter("tracktail_rejected_by_api_total", help: "Events the Track API rejected (400/413/422 on a single event).", ship.rejected)
        p.counter("tracktail_batch_splits_total", help: "Batches split in two to isolate rejected events.", ship.splits)
        p.family("tracktail_retries_total", .counter, help: "Requests retried, by cause.")
        p.sample("tracktail_retries_total", labels: ["cause": "4xx"], ship.retries4xx)
        p.sample("tracktail_retries_total", labels: ["cause": "5xx"], ship.retries5xx)
        p.sample("tracktail_retries_total", labels: ["cause": "transport"], ship.retriesTransport)
        p.counter("tracktail_holds_total", help: "Times the output held because the API refused the configuration (401/403/404).", ship.holds)

        p.gauge("tracktail_buffer_bytes", help: "Bytes read but not yet delivered, dead-lettered or dropped (the byte budget in use).", topology.budget.inUse)
        p.gauge("tracktail_buffer_limit_bytes", help: "The byte budget ([limits] buffer_bytes).", topology.budget.limit)
        p.family("tracktail_lag_bytes", .gauge, help: "Bytes written to a checkpointed file but not yet done.")
        for (path, bytes) in lag { p.sample("tracktail_lag_bytes", labels: ["path": path], Int(bytes)) }
        p.gauge("tracktail_sources", help: "Files and pipes currently tracked.", topology.tailer.sourceCount)
        let spools = topology.tailer.spoolStatus()
        if !spools.isEmpty {
            let blocked = Set(topology.tailer.blockedPipes)
            p.family("tracktail_pipe_spool_bytes", .gauge, help: "Bytes read from a pipe into its spool and not yet delivered, dead-lettered or dropped.")
            for s in spools { p.sample("tracktail_pipe_spool_bytes", labels: ["path": s.path], Int(s.status.bytes)) }
            p.family("tracktail_pipe_spool_segments", .gauge, help: "Spool segment files of a pipe.")
            for s in spools { p.sample("tracktail_pipe_spool_segments", labels: ["path": s.path], s.status.segments) }
            p.family("tracktail_pipe_spool_oldest_age_seconds", .gauge, help: "Seconds since the last write to the oldest spool segment with bytes not yet done.")
            for s in spools { p.sample("tracktail_pipe_spool_oldest_age_seconds", labels: ["path": s.path], s.status.oldestAgeSeconds) }
            p.family("tracktail_pipe_spool_full", .gauge, help: "1 while the spool is at limits.spool_max_bytes: the pipe is not read and its writers block.")
            for s in spools { p.sample("tracktail_pipe_spool_full", labels: ["path": s.path], blocked.contains(s.path) ? 1 : 0) }
        }
        let journals = topology.tailer.journalProgress()
        if !journals.isEmpty {
            p.family("tracktail_journal_checkpoint_timestamp_seconds", .gauge, help: "Time of the journal entry the checkpoint stands at.")
            for j in journals { p.sample("tracktail_journal_checkpoint_timestamp_seconds", labels: ["input": j.input], Double(j.checkpoint?.realtime ?? 0) / 1e6) }
            p.family("tracktail_journal_read_timestamp_seconds", .gauge, help: "Time of the last journal entry read.")
            for j in journals { p.sample("tracktail_journal_read_timestamp_seconds", labels: ["input": j.input], Double(j.latest?.realtime ?? 0) / 1e6) }
            p.family("tracktail_journal_lag_seconds", .gauge, help: "Entry time read minus entry time checkpointed (entries in flight).")
            for j in journals {
                p.sample("tracktail_journal_lag_seconds", labels: ["input": j.input], Double(max(0, (j.latest?.realtime ?? 0) - (j.checkpoint?.realtime ?? 0))) / 1e6)
            }
        }
        p.gauge("tracktail_inputs_unreadable", help: "Configured file inputs with no readable file (no match, no directory, permission denied).", inputs.failing.count)
        p.gauge("tracktail_healthy", help: "1 when events flow, 0 when the output or an input is degraded (see /health for why).", health == .ok && inputsOK ? 1 : 0)

        let buckets = zip(LatencyHistogram.bounds, latency.counts).map { (upperBound: Double($0) / 1e9, count: $1) }
        p.histogram("tracktail_request_duration_seconds", help: "Time spent in one request to the output, answered or failed.",
                    buckets: buckets, sum: Double(latency.sumNanoseconds) / 1e9, count: latency.count)

        p.gauge("tracktail_up", help: "1 while the daemon runs.", 1)
        p.gauge("tracktail_last_success_timestamp_seconds", help: "When the output last accepted events, in seconds since the Unix epoch (0: not yet).", lastSuccess.seconds)
        p.gauge("tracktail_start_time_seconds", help: "When the daemon started, in seconds since the Unix epoch.", Double(startedWall / 1_000_000) / 1e3)
        return p.text
    }

    /// Lag per path, from the checkpoint entries and a `stat` of each file (`Topology.lagBytes`
    /// sums it). A path seen under two identities (rotated, recreated) is summed into one series,
    /// since Prometheus needs label sets to be unique; a file that is gone or replaced counts 0.
    static func lagByFile(_ topology: Topology) -> [(path: String, bytes: Int64)] {
        var out: [(path: String, bytes: Int64)] = []
        for e in topology.tailer.checkpointEntries() {   // sorted by path
            var lag: Int64 = 0
            if let st = try? FileSystem.status(e.path), st.identity == e.identity { lag = max(0, st.size - e.offset) }
            if let last = out.last, last.path == e.path {
                out[out.count - 1].bytes += lag
            } else {
                out.append((e.path, lag))
            }
        }
        return out
    }
}
