import Foundation
import Pipeline
import Posix
import Runtime
import Tail
import Testing

/// Read throughput and CPU per line (a measurement, printed; opt in with TAIL_BENCH=lines and
/// run in release: `TAIL_BENCH=1000000 swift test -c release --filter throughput`).
@Test(.enabled(if: ProcessInfo.processInfo.environment["TAIL_BENCH"] != nil))
func throughput() throws {
    let count = Int(ProcessInfo.processInfo.environment["TAIL_BENCH"] ?? "") ?? 1_000_000
    let dir = makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // Written in 1 MiB pieces so that the process's peak RSS is the tailer's, not the test's.
    _ = FileManager.default.createFile(atPath: dir + "/bench.log", contents: nil)
    let out = FileHandle(forWritingAtPath: dir + "/bench.log")!
    var piece = ""
    var total = 0
    for i in 0..<count {
        piece += "{\"ts\":\"2026-11-24T19:00:00.000Z\",\"event\":\"user_signed_up\",\"user_id\":\"u\(i)\",\"plan\":\"pro\",\"n\":\(i)}\n"
        if piece.utf8.count >= 1 << 20 || i == count - 1 {
            total += piece.utf8.count
            out.write(Data(piece.utf8))
            piece = ""
        }
    }
    try out.close()
    let rssBefore = peakRSSKiB()
    let budget = ByteBudget(limit: 4 << 20)
    let queue = BlockingQueue<LineBatch>(capacity: 8)
    let config = TailConfiguration(inputs: [.init(name: "bench", paths: [dir + "/*.log"])], stateDirectory: dir + "/state")
    let tailer = try Tailer(configuration: config, budget: budget, output: queue, logger: Logger(label: "bench"))
    let done = DispatchSemaphore(value: 0)
    let consumer = Foundation.Thread {
        var lines = 0
        while let b = queue.pop() {
            lines += b.lines.count
            tailer.acknowledge(b.source, start: b.lines.first!.start, end: b.lines.last!.end)
            if lines == count { done.signal() }
        }
    }
    consumer.start()
    let cpu0 = SystemClock.processCPUNanoseconds()
    let wall0 = SystemClock.monotonicNanoseconds()
    tailer.start()
    done.wait()
    let wall = SystemClock.monotonicNanoseconds() - wall0
    let cpu = SystemClock.processCPUNanoseconds() - cpu0
    tailer.stop()
    tailer.close()
    let mb = Double(total) / 1_048_576
    print("tail throughput: \(count) lines, \(Int(mb)) MiB in \(wall / 1_000_000) ms = \(Int(Double(count) / (Double(wall) / 1e9))) lines/s, \(Int(mb / (Double(wall) / 1e9))) MiB/s; CPU \(Double(cpu) / 1e9) s (\(Double(cpu) / Double(count)) ns/line, reader + consumer)")
    print("peak RSS of the test process: \(rssBefore) KiB before the tailer started, \(peakRSSKiB()) KiB after (VmHWM)")
    #expect(budget.inUse == 0)
}

func peakRSSKiB() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return -1 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
}

/// Pipe throughput through the spool (a measurement, printed; opt in with TAIL_PIPE_BENCH=lines,
/// in release: `TAIL_PIPE_BENCH=1000000 swift test -c release --filter pipeThroughput`).
@Test(.enabled(if: ProcessInfo.processInfo.environment["TAIL_PIPE_BENCH"] != nil))
func pipeThroughput() throws {
    let count = Int(ProcessInfo.processInfo.environment["TAIL_PIPE_BENCH"] ?? "") ?? 1_000_000
    let dir = makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fifo = dir + "/bench.fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    let budget = ByteBudget(limit: 4 << 20)
    let queue = BlockingQueue<LineBatch>(capacity: 8)
    let config = TailConfiguration(inputs: [.init(name: "bench", kind: .pipe, paths: [fifo])], stateDirectory: dir + "/state")
    let tailer = try Tailer(configuration: config, budget: budget, output: queue, logger: Logger(label: "bench"))
    let done = DispatchSemaphore(value: 0)
    let consumer = Foundation.Thread {
        var lines = 0
        while let b = queue.pop() {
            lines += b.lines.count
            tailer.acknowledge(b.source, start: b.lines.first!.start, end: b.lines.last!.end)
            if lines == count { done.signal() }
        }
    }
    consumer.start()
    let cpu0 = SystemClock.processCPUNanoseconds()
    let wall0 = SystemClock.monotonicNanoseconds()
    tailer.start()
    let writer = FileHandle(forWritingAtPath: fifo)!
    var piece = ""
    var total = 0
    for i in 0..<count {
        piece += "{\"ts\":\"2026-11-24T19:00:00.000Z\",\"event\":\"user_signed_up\",\"user_id\":\"u\(i)\",\"plan\":\"pro\",\"n\":\(i)}\n"
        if piece.utf8.count >= 1 << 20 || i == count - 1 {
            total += piece.utf8.count
            writer.write(Data(piece.utf8))
            piece = ""
        }
    }
    try writer.close()
    done.wait()
    let wall = SystemClock.monotonicNanoseconds() - wall0
    let cpu = SystemClock.processCPUNanoseconds() - cpu0
    tailer.stop()
    tailer.close()
    let mb = Double(total) / 1_048_576
    print("pipe throughput (spooled): \(count) lines, \(Int(mb)) MiB in \(wall / 1_000_000) ms = \(Int(Double(count) / (Double(wall) / 1e9))) lines/s; CPU \(Double(cpu) / 1e9) s including the writer's string building (reader + consumer + writer)")
    #expect(budget.inUse == 0)
}
