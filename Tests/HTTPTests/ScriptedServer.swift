import Foundation
import Posix
import Synchronization

/// A tiny blocking HTTP server on loopback for client tests. Each accepted connection runs
/// `handler` on its own thread, which scripts what the "server" does: answer, stall, close,
/// reset. Built on the Posix socket wrappers (the same code the client uses).
final class ScriptedServer: Sendable {
    let listener: Socket
    let port: Int
    private let accepted = Atomic<Int>(0)
    private let requests = Mutex<[String]>([])

    /// Connections accepted so far.
    var connectionCount: Int { accepted.load(ordering: .sequentiallyConsistent) }
    /// Request heads received so far, in order.
    var requestHeads: [String] { requests.withLock { $0 } }

    init(host: String = "127.0.0.1", handler: @escaping @Sendable (ServerConnection) -> Void) throws {
        let address = try Resolver.resolve(host: host, port: 0)[0]
        listener = try Socket.listen(on: address)
        port = try listener.localAddress().port
        let listener = self.listener
        Thread.detachNewThread { [self] in
            while true {
                guard let socket = try? listener.accept() else { return }
                accepted.add(1, ordering: .sequentiallyConsistent)
                Thread.detachNewThread {
                    let connection = ServerConnection(socket: socket, server: self)
                    handler(connection)
                    connection.close()
                }
            }
        }
    }

    func record(_ head: String) { requests.withLock { $0.append(head) } }

    func stop() {
        listener.shutdown(both: true)
        listener.close()
    }
}

/// The server side of one connection, used by one handler thread.
final class ServerConnection: @unchecked Sendable {
    let socket: Socket
    private let server: ScriptedServer
    private var buffer: [UInt8] = []
    private var closed = false

    init(socket: Socket, server: ScriptedServer) {
        self.socket = socket
        self.server = server
    }

    /// Reads one request (head and `Content-Length` body); nil when the client closed.
    func readRequest() -> (head: String, body: [UInt8])? {
        while true {
            if let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                var length = 0
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                }
                while buffer.count < end + 4 + length {
                    guard fill() else { return nil }
                }
                let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                buffer.removeFirst(end + 4 + length)
                server.record(head)
                return (head, body)
            }
            guard fill() else { return nil }
        }
    }

    func write(_ text: String) { write(Array(text.utf8)) }

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { try? socket.sendAll($0) }
    }

    /// Answers `status` with a `Content-Length` body.
    func respond(_ status: Int = 200, _ body: String = "", extra: String = "") {
        write("HTTP/1.1 \(status) X\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)")
    }

    /// Serves requests with `200 ok` until the client closes.
    func serveForever() {
        while readRequest() != nil { respond(200, "ok") }
    }

    /// Closes with RST instead of FIN.
    func reset() {
        try? socket.setResetOnClose()
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        socket.close()
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { (try? socket.receive(into: $0)) ?? 0 }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[..<n])
        return true
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where buffer[i] == needle[0] && Array(buffer[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }
}
