import Glibc

/// sink-load: measures track-sink's own ceiling with a client that does almost nothing.
/// It wraps the lines of an NDJSON file into JSON-array bodies of `batch` events (the lines
/// carry `props.seq`, which the sink counts), then POSTs them over `connections` keep-alive
/// connections until `events` events were accepted, and prints events/s.
///
///   sink-load PORT FILE.ndjson [events=2000000] [batch=500] [connections=2]
let arguments = CommandLine.arguments
guard arguments.count >= 3, let port = UInt16(arguments[1]) else {
    print("usage: sink-load PORT FILE.ndjson [events] [batch] [connections]")
    exit(64)
}
let total = arguments.count > 3 ? Int(arguments[3]) ?? 2_000_000 : 2_000_000
let batch = arguments.count > 4 ? Int(arguments[4]) ?? 500 : 500
let connections = arguments.count > 5 ? Int(arguments[5]) ?? 2 : 2

func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { print("cannot open \(path)"); exit(66) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    close(fd)
    return bytes
}

/// Whole requests (head + body), each holding `batch` events.
func buildRequests() -> [[UInt8]] {
    var requests: [[UInt8]] = []
    let lines = readFile(arguments[2]).split(separator: 0x0A)
    var i = 0
    while i + batch <= lines.count, requests.count < 400 {
        var body: [UInt8] = [0x5B]
        for (k, line) in lines[i..<(i + batch)].enumerated() {
            if k > 0 { body.append(0x2C) }
            body.append(contentsOf: line)
        }
        body.append(0x5D)
        let head = "POST /api/track HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench-token\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        requests.append(Array(head.utf8) + body)
        i += batch
    }
    guard !requests.isEmpty else { print("need at least \(batch) lines"); exit(65) }
    return requests
}
let requests = buildRequests()

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

final class Worker: @unchecked Sendable {
    let index: Int, port: UInt16, requests: [[UInt8]], quota: Int, batch: Int, stride: Int
    var sent = 0
    var failed = false
    init(index: Int, port: UInt16, requests: [[UInt8]], quota: Int, batch: Int, stride: Int) {
        (self.index, self.port, self.requests, self.quota, self.batch, self.stride) = (index, port, requests, quota, batch, stride)
    }

    func run() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else { failed = true; return }
        var reply = [UInt8](repeating: 0, count: 4096)
        var r = index
        while sent + batch <= quota {
            let request = requests[r % requests.count]
            r += stride
            var done = 0
            while done < request.count {
                let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + done, request.count - done, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { failed = true; return }
                done += n
            }
            // Responses are small and come whole: read until the head's blank line and body.
            var have = 0
            while true {
                let n = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + have, $0.count - have, 0) }
                guard n > 0 else { failed = true; return }
                have += n
                if let end = reply[0..<have].indices.first(where: { i in
                    i + 3 < have && reply[i] == 13 && reply[i + 1] == 10 && reply[i + 2] == 13 && reply[i + 3] == 10 }) {
                    let head = String(decoding: reply[0..<end], as: UTF8.self).lowercased()
                    guard head.hasPrefix("http/1.1 200") else { failed = true; return }
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst(15).trimmingPrefix(" ")) } ?? 0
                    if have >= end + 4 + length { break }
                }
            }
            sent += batch
        }
        close(fd)
    }
}

/// Outside top-level code, so that the thread's entry point is not isolated to the main actor.
nonisolated func start(_ worker: Worker) -> pthread_t {
    var thread = pthread_t()
    pthread_create(&thread, nil, { raw in
        Unmanaged<Worker>.fromOpaque(raw!).takeUnretainedValue().run()
        return nil
    }, Unmanaged.passUnretained(worker).toOpaque())
    return thread
}

let workers = (0..<connections).map {
    Worker(index: $0, port: port, requests: requests, quota: total / connections, batch: batch, stride: connections)
}
var threads: [pthread_t] = []
let began = now()
for worker in workers { threads.append(start(worker)) }
for thread in threads { pthread_join(thread, nil) }
let seconds = now() - began
let sent = workers.reduce(0) { $0 + $1.sent }
let failed = workers.contains { $0.failed }
print("{\"events\":\(sent),\"seconds\":\(seconds),\"events_per_s\":\(Int(Double(sent) / seconds)),\"batch\":\(batch),\"connections\":\(connections),\"ok\":\(!failed)}")
exit(failed ? 1 : 0)
