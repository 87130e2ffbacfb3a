import Foundation
import Pipeline
import Posix
import Runtime
import Tail
import Testing

/// One line as a test consumer received it.
struct Delivered: Equatable, Sendable {
    var text: String
    var source: SourceID
    var start: Int64
    var end: Int64
    var truncated: Bool
    var textBytes: Int
    var path: String
}

/// A real `Tailer` on a temp directory, with a consumer thread standing in for the pipeline:
/// it records every line and (unless told to hold) acknowledges it at once.
final class Harness: @unchecked Sendable {
    let root: String
    let logs: String
    let state: String
    let budget: ByteBudget
    private(set) var tailer: Tailer!
    private var queue: BlockingQueue<LineBatch>!
    private var consumer: Foundation.Thread?
    private let lock = NSLock()
    private var _delivered: [Delivered] = []
    private var _held: [(SourceID, Int64, Int64)] = []
    private var _holdAcks = false
    private var _caughtUpAt: [Int] = []
    private var consumerDone = DispatchSemaphore(value: 0)

    init(budgetBytes: Int = 4 << 20, tag: String = #function) {
        root = makeTempDirectory(tag)
        logs = root + "/logs"
        state = root + "/state"
        try! FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        budget = ByteBudget(limit: budgetBytes)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func configuration(paths: [String]? = nil, exclude: [String] = [], startAt: TailConfiguration.StartAt = .beginning,
                       kind: TailConfiguration.Kind = .file, once: Bool = false, maxOpenFiles: Int = 256,
                       disableInotify: Bool = false, batchBytes: Int = 256 * 1024, readChunk: Int = 64 * 1024,
                       maxLineBytes: Int = 1 << 20, fingerprintBytes: Int = 256) -> TailConfiguration {
        TailConfiguration(
            inputs: [.init(name: "app", kind: kind, paths: paths ?? [logs + "/*.log"], exclude: exclude, startAt: startAt,
                           fingerprintBytes: fingerprintBytes, maxLineBytes: maxLineBytes)],
            stateDirectory: state, maxOpenFiles: maxOpenFiles, rescanInterval: 10_000_000_000, orphanLinger: 200_000_000,
            deletedGrace: 3_000_000_000, checkpointInterval: 100_000_000, once: once, batchBytes: batchBytes,
            readChunkBytes: readChunk, disableInotify: disableInotify)
    }

    func start(_ config: TailConfiguration) throws {
        queue = BlockingQueue<LineBatch>(capacity: 8)
        tailer = try Tailer(configuration: config, budget: budget, output: queue, logger: Logger(label: "test"))
        consumerDone = DispatchSemaphore(value: 0)
        let q = queue!
        let t = tailer!
        let thread = Foundation.Thread { [self] in
            while let batch = q.pop() {
                if batch.caughtUp { lock.withLock { _caughtUpAt.append(_delivered.count) } }
                for line in batch.lines {
                    let d = Delivered(text: String(decoding: batch.text(of: line), as: UTF8.self), source: batch.source,
                                      start: line.start, end: line.end, truncated: line.truncated, textBytes: line.textCount,
                                      path: t.sourceInfo(batch.source)?.path ?? "?")
                    let hold = lock.withLock { () -> Bool in
                        _delivered.append(d)
                        if _holdAcks { _held.append((batch.source, line.start, line.end)) }
                        return _holdAcks
                    }
                    if !hold { t.acknowledge(batch.source, start: line.start, end: line.end) }
                }
            }
            consumerDone.signal()
        }
        thread.start()
        tailer.start()
    }

    /// Stops the tailer, waits for the consumer to drain, writes the checkpoint, releases the lock.
    func stop() {
        tailer.stop()
        consumerDone.wait()
        tailer.close()
    }

    /// Waits until the checkpoint stands at the end of each named file and nothing is in flight:
    /// the reader has read, and the consumer acknowledged, everything (so a line read twice
    /// would already have been delivered). Instead of sleeping before `stop()`.
    func settled(_ names: [String], seconds: Double = 15) -> Bool {
        eventually(seconds) {
            let entries = tailer.checkpointEntries()
            return names.allSatisfy { n in entries.contains { $0.path == path(n) && $0.offset == size(n) } }
        }
    }

    var delivered: [Delivered] { lock.withLock { _delivered } }
    /// For each `LineBatch.caughtUp` marker received: how many lines had been received before it.
    var caughtUpAt: [Int] { lock.withLock { _caughtUpAt } }
    var texts: [String] { delivered.map(\.text) }

    var holdAcks: Bool {
        get { lock.withLock { _holdAcks } }
        set { lock.withLock { _holdAcks = newValue } }
    }

    /// Acknowledges everything held so far (optionally only the lines `where` selects).
    func releaseHeld(where keep: (SourceID, Int64, Int64) -> Bool = { _, _, _ in true }) {
        let take = lock.withLock { () -> [(SourceID, Int64, Int64)] in
            let t = _held.filter { keep($0.0, $0.1, $0.2) }
            _held.removeAll { keep($0.0, $0.1, $0.2) }
            return t
        }
        for (s, a, b) in take { tailer.acknowledge(s, start: a, end: b) }
    }

    func clearDelivered() { lock.withLock { _delivered = [] } }

    // MARK: Files

    func path(_ name: String) -> String { logs + "/" + name }

    func write(_ name: String, _ text: String) { write(name, Array(text.utf8)) }

    func write(_ name: String, _ bytes: [UInt8]) {
        _ = FileManager.default.createFile(atPath: path(name), contents: Data(bytes))
    }

    func append(_ name: String, _ text: String) { append(name, Array(text.utf8)) }

    func append(_ name: String, _ bytes: [UInt8]) {
        if !FileManager.default.fileExists(atPath: path(name)) { write(name, []) }
        let h = FileHandle(forWritingAtPath: path(name))!
        h.seekToEndOfFile()
        h.write(Data(bytes))
        try? h.close()
    }

    func size(_ name: String) -> Int64 {
        (try? FileManager.default.attributesOfItem(atPath: path(name))[.size] as? NSNumber)??.int64Value ?? -1
    }
}

/// Polls `condition` until it holds or `seconds` pass (no timing assertion: a deadline).
@discardableResult
func eventually(_ seconds: Double = 15, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

func lines(_ prefix: String, _ range: Range<Int>) -> [String] { range.map { "\(prefix) line \($0) {\"n\":\($0)}" } }
func joined(_ ls: [String]) -> String { ls.map { $0 + "\n" }.joined() }

extension NSLock {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
