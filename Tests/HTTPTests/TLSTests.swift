import Foundation
import HTTP
import Posix
import Testing
import TrackAPIFake

/// Throw-away certificates made by `FakeTrackAPI.makeTestCertificates` (the `openssl` command):
/// `good` names 127.0.0.1 and localhost; `wrongHost`, signed by its own CA, names only other.example.
final class TestPKI: Sendable {
    let directory: URL
    let good: FakeTrackAPI.TLSFiles
    let wrongHost: FakeTrackAPI.TLSFiles

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tracktail-pki-\(UUID().uuidString)")
        good = try FakeTrackAPI.makeTestCertificates(in: directory.appendingPathComponent("good").path, hosts: ["127.0.0.1", "localhost"])
        wrongHost = try FakeTrackAPI.makeTestCertificates(in: directory.appendingPathComponent("wrongHost").path, hosts: ["other.example"])
    }

    var caFile: String { good.caCertificate }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// The fake Track API over HTTPS (or plain HTTP without `tls`), accepting any credentials. It runs
/// in this process and records nothing per request or event (only counters), so that
/// `MemoryTests` sees the client's memory, not the fake's records.
func trackAPI(tls: FakeTrackAPI.TLSFiles?) throws -> FakeTrackAPI {
    try FakeTrackAPI(auth: .none, keepsRequests: false, keepsBodies: false, seqPath: nil, fastChecks: true, tls: tls)
}

/// One event the fake accepts.
let validEvent = #"{"event_name":"e","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z"}"#

private func trackRequest(_ body: String = "[\(validEvent)]") -> HTTPRequest {
    HTTPRequest(path: "/api/track", headers: ["Content-Type": "application/json", "User-Agent": "tracktail/test"], body: Array(body.utf8))
}

private func tlsClient(_ url: String, caFile: String?, proxy: HTTPURL? = nil) throws -> HTTPClient {
    var configuration = HTTPClientConfiguration(url: try HTTPURL(url), caFile: caFile, proxy: proxy)
    configuration.requestTimeout = 10
    configuration.connectTimeout = 5
    return try HTTPClient(configuration)
}

@Suite(.serialized) struct TLSTests {
    @Test func trustedWithCAFileAndRefusedOtherwise() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let good = try trackAPI(tls: pki.good)
        defer { good.stop() }
        let wrong = try trackAPI(tls: pki.wrongHost)
        defer { wrong.stop() }

        // With ca_file, by IP and by name: accepted, and the connection is kept alive.
        for host in ["127.0.0.1", "localhost"] {
            let client = try tlsClient("https://\(host):\(good.port)", caFile: pki.caFile)
            let responses = try await onThread { try (0..<3).map { _ in try client.send(trackRequest()) } }
            #expect(responses.map(\.status) == [200, 200, 200], "\(host)")
            #expect(String(decoding: responses[0].body, as: UTF8.self) == "{\"accepted\":1}")
            #expect(client.idleConnections == 1)
            #expect(client.connectionsOpened == 1)
            client.close()
        }

        // Without ca_file: the test CA is unknown, the certificate is refused.
        let untrusted = try tlsClient("https://127.0.0.1:\(good.port)", caFile: nil)
        let e1 = try await failure { try untrusted.send(trackRequest()) }
        #expect(e1.isCertificateError)
        #expect(e1.description.hasPrefix("TLS certificate verify failed: unable to get local issuer certificate (host 127.0.0.1)"),
                "\(e1)")

        // With ca_file but a certificate for another name: refused by the host check, for an IP and a DNS name.
        let byIP = try tlsClient("https://127.0.0.1:\(wrong.port)", caFile: pki.wrongHost.caCertificate)
        let e2 = try await failure { try byIP.send(trackRequest()) }
        #expect(e2.isCertificateError)
        #expect(e2.description == "TLS certificate verify failed: IP address mismatch (host 127.0.0.1)")
        let byName = try tlsClient("https://localhost:\(wrong.port)", caFile: pki.wrongHost.caCertificate)
        let e3 = try await failure { try byName.send(trackRequest()) }
        #expect(e3.isCertificateError)
        #expect(e3.description == "TLS certificate verify failed: hostname mismatch (host localhost)")

        // Plain HTTP to a TLS port is a protocol failure, not a certificate one.
        let plain = try tlsClient("http://127.0.0.1:\(good.port)", caFile: nil)
        let e4 = try await failure { try plain.send(trackRequest()) }
        #expect(!e4.isCertificateError)
    }

    @Test func badCAFileIsReportedAtStart() throws {
        #expect(throws: HTTPError.self) { try tlsClient("https://127.0.0.1:1", caFile: "/nonexistent/ca.pem") }
    }

    @Test func tlsThroughConnectProxy() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let api = try trackAPI(tls: pki.good)
        defer { api.stop() }
        let proxy = try ScriptedServer { $0.tunnel() }
        defer { proxy.stop() }
        let client = try tlsClient("https://127.0.0.1:\(api.port)", caFile: pki.caFile, proxy: try HTTPURL("http://127.0.0.1:\(proxy.port)"))
        let statuses = try await onThread { try (0..<3).map { _ in try client.send(trackRequest()).status } }
        #expect(statuses == [200, 200, 200])
        #expect(proxy.connectionCount == 1)
        #expect(proxy.requestHeads.first?.hasPrefix("CONNECT 127.0.0.1:\(api.port) HTTP/1.1\r\nHost: 127.0.0.1:\(api.port)\r\n") == true)
    }

    @Test func proxyRefusingConnectIsAProxyError() async throws {
        let proxy = try ScriptedServer { c in
            while c.readRequest() != nil { c.respond(407, "", extra: "Proxy-Authenticate: Basic\r\n") }
        }
        defer { proxy.stop() }
        let client = try tlsClient("https://127.0.0.1:9", caFile: nil, proxy: try HTTPURL("http://127.0.0.1:\(proxy.port)"))
        let error = try await failure { try client.send(trackRequest()) }
        #expect(error == .proxy("CONNECT 127.0.0.1:9 via 127.0.0.1:\(proxy.port) answered 407 X"))
    }
}

/// Runs `body` on a thread and returns the HTTPError it must throw.
func failure(_ body: @escaping @Sendable () throws -> HTTPResponse) async throws -> HTTPError {
    let result: Result<HTTPResponse, any Error> = try await onThread { Result { try body() } }
    switch result {
    case .success(let response):
        Issue.record("unexpected success: \(response.status)")
        return .shutDown
    case .failure(let error):
        return try #require(error as? HTTPError)
    }
}

extension ServerConnection {
    /// A minimal CONNECT proxy: answers 200, then copies bytes both ways until either side closes.
    func tunnel() {
        guard let (head, _) = readRequest(), head.hasPrefix("CONNECT ") else { return }
        let authority = head.split(separator: " ")[1]
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
              let address = try? Resolver.resolve(host: String(authority[..<colon]), port: port).first,
              let upstream = try? Socket.stream(family: address.family, nonBlocking: false),
              (try? upstream.beginConnect(to: address)) == true else {
            respond(502)
            return
        }
        write("HTTP/1.1 200 Connection established\r\n\r\n")
        let downstream = socket
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            copy(from: upstream, to: downstream)
            downstream.shutdown()
            done.signal()
        }
        copy(from: downstream, to: upstream)
        upstream.shutdown()
        done.wait()
        upstream.close()
    }
}

private func copy(from: Socket, to: Socket) {
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = buffer.withUnsafeMutableBytes { (try? from.receive(into: $0)) ?? 0 }
        if n <= 0 { return }
        let ok = buffer.withUnsafeBytes { (try? to.sendAll(UnsafeRawBufferPointer(rebasing: $0[0..<n]))) != nil }
        if !ok { return }
    }
}
