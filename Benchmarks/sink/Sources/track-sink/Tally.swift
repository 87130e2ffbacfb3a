import Glibc

/// Nanoseconds since the epoch (CLOCK_REALTIME), so that the runner can compare with its own clock.
func wallNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// What the sink answers a request with, decided under the lock before the body is looked at.
enum Verdict {
    case accept
    case fail503
    case tooMany429
    case unauthorized
    case notFound
    case notAllowed
}

/// Every counter of the sink, shared by the connection threads behind one mutex. A connection
/// scans a body's ids without the lock and takes it once per request to record them.
final class Tally: @unchecked Sendable {
    let options: Options
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    var requests = 0, accepted = 0, rejected503 = 0, rejected429 = 0, unauthorized = 0
    var notFound = 0, badRequest = 0, connections = 0
    /// Events counted by their id key (plus `noID`), over accepted requests.
    var events = 0, unique = 0, duplicates = 0, noID = 0
    /// Unique ids in 0..<expect, and unique ids outside it.
    var uniqueExpected = 0, unexpected = 0
    var bytes = 0, bytesDecoded = 0, maxBatch = 0
    var firstRequestAt: Int64 = 0, firstEventAt: Int64 = 0, lastEventAt: Int64 = 0, completeAt: Int64 = 0

    /// One byte per id: 0 never seen, 1 seen. Grows (up to `idLimit`) for ids beyond the expected.
    private var seen: UnsafeMutablePointer<UInt8>
    private var seenCount: Int
    private static let idLimit = 1 << 28
    /// Ids at or beyond `idLimit` (not tracked for duplicates).
    var outOfRange = 0
    /// First-arrival time per expected id, only when an arrivals file is asked for.
    private let arrivals: UnsafeMutablePointer<Int64>?
    private var rng: UInt64

    init(options: Options) {
        self.options = options
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        seenCount = max(options.expect, 1 << 16)
        seen = .allocate(capacity: seenCount)
        seen.initialize(repeating: 0, count: seenCount)
        if options.arrivalsFile.isEmpty || options.expect == 0 {
            arrivals = nil
        } else {
            arrivals = .allocate(capacity: options.expect)
            arrivals!.initialize(repeating: 0, count: options.expect)
        }
        rng = options.seed &* 0x9E37_79B9_7F4A_7C15 | 1
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// xorshift64*: a uniform double in [0, 1). Call under the lock.
    private func roll() -> Double {
        rng ^= rng >> 12
        rng ^= rng << 25
        rng ^= rng >> 27
        return Double((rng &* 0x2545_F491_4F6C_DD1D) >> 11) / Double(1 << 53)
    }

    /// Counts a request and decides its fate. Call under the lock.
    func admit(isPost: Bool, pathMatches: Bool, authorized: Bool, bodyBytes: Int) -> Verdict {
        requests += 1
        bytes += bodyBytes
        if firstRequestAt == 0 { firstRequestAt = wallNanos() }
        guard pathMatches else { notFound += 1; return .notFound }
        guard isPost else { return .notAllowed }
        guard authorized else { unauthorized += 1; return .unauthorized }
        if options.rate429 > 0, roll() < options.rate429 { rejected429 += 1; return .tooMany429 }
        if options.failRate > 0, roll() < options.failRate { rejected503 += 1; return .fail503 }
        return .accept
    }

    /// Records the ids of one accepted body. Call under the lock; returns true when this request
    /// completed the expected set (the caller then writes the stats file).
    func record(ids: UnsafeBufferPointer<Int>, missingIDs: Int, decodedBytes: Int) -> Bool {
        let now = wallNanos()
        accepted += 1
        bytesDecoded += decodedBytes
        let n = ids.count + missingIDs
        events += n
        noID += missingIDs
        maxBatch = max(maxBatch, n)
        if n > 0 {
            if firstEventAt == 0 { firstEventAt = now }
            lastEventAt = now
        }
        let expect = options.expect
        for id in ids {
            guard id < Self.idLimit else { outOfRange += 1; continue }
            if id >= seenCount { grow(toHold: id) }
            if seen[id] != 0 {
                duplicates += 1
                continue
            }
            seen[id] = 1
            unique += 1
            if id < expect {
                uniqueExpected += 1
                arrivals?[id] = now
            } else {
                unexpected += 1
            }
        }
        if expect > 0, completeAt == 0, uniqueExpected == expect {
            completeAt = now
            return true
        }
        return false
    }

    private func grow(toHold id: Int) {
        let newCount = min(Self.idLimit, max(id + 1, seenCount * 2))
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCount)
        bigger.initialize(from: seen, count: seenCount)
        (bigger + seenCount).initialize(repeating: 0, count: newCount - seenCount)
        seen.deallocate()
        seen = bigger
        seenCount = newCount
    }

    /// The counters as one JSON object. Call under the lock.
    func json(final: Bool) -> String {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        func time(_ ns: Int64) -> String {
            guard ns > 0 else { return "null" }
            let micros = ns / 1000
            let frac = String(micros % 1_000_000)
            return "\(micros / 1_000_000).\(String(repeating: "0", count: 6 - frac.count))\(frac)"
        }
        let fields: [(String, String)] = [
            ("final", final ? "true" : "false"),
            ("now", time(wallNanos())),
            ("expect", "\(options.expect)"),
            ("requests", "\(requests)"),
            ("accepted", "\(accepted)"),
            ("rejected_503", "\(rejected503)"),
            ("rejected_429", "\(rejected429)"),
            ("unauthorized", "\(unauthorized)"),
            ("not_found", "\(notFound)"),
            ("bad_request", "\(badRequest)"),
            ("connections", "\(connections)"),
            ("events", "\(events)"),
            ("unique", "\(unique)"),
            ("duplicates", "\(duplicates)"),
            ("lost", "\(options.expect - uniqueExpected)"),
            ("unexpected", "\(unexpected)"),
            ("no_id", "\(noID)"),
            ("out_of_range", "\(outOfRange)"),
            ("bytes", "\(bytes)"),
            ("bytes_decoded", "\(bytesDecoded)"),
            ("max_batch", "\(maxBatch)"),
            ("first_request_at", time(firstRequestAt)),
            ("first_event_at", time(firstEventAt)),
            ("last_event_at", time(lastEventAt)),
            ("complete_at", time(completeAt)),
            ("sink_cpu_s", "\(cpu)"),
            ("sink_maxrss_kb", "\(usage.ru_maxrss)"),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
    }

    /// Writes the stats file atomically (a temporary file renamed over it). Call under the lock.
    func writeStats(final: Bool) {
        guard !options.statsFile.isEmpty else { return }
        let text = json(final: final)
        writeAtomically(options.statsFile, Array(text.utf8))
    }

    /// Writes the arrival times of the expected ids. Call under the lock.
    func writeArrivals() {
        guard let arrivals, !options.arrivalsFile.isEmpty else { return }
        let raw = UnsafeRawBufferPointer(start: arrivals, count: options.expect * 8)
        writeAtomically(options.arrivalsFile, Array(raw))
    }
}

/// Writes `bytes` to `path` through `path.tmp` and a rename, so a reader never sees half a file.
func writeAtomically(_ path: String, _ bytes: [UInt8]) {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
        complain("cannot write \(tmp): errno \(errno)")
        return
    }
    var done = 0
    bytes.withUnsafeBytes { raw in
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 { if errno == EINTR { continue }; break }
            done += n
        }
    }
    close(fd)
    if done == bytes.count { rename(tmp, path) } else { complain("short write to \(tmp)") }
}

func complain(_ message: String) {
    let line = "track-sink: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
