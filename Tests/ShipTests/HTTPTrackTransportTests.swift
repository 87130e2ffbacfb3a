import HTTP
import Testing
@testable import Ship

@Suite struct HTTPTrackTransportTests {
    enum Kind: Equatable { case transient, configuration }

    /// What each HTTP client error means for the shipper (the table on `TransportFailure.init(_:)`).
    static let table: [(HTTPError, Kind)] = [
        (.invalidURL("htp://x", reason: "scheme"), .configuration),
        (.shutDown, .configuration),
        (.tls(reason: "certificate has expired", host: "api.example", certificate: true), .configuration),
        (.tls(reason: "handshake failure", host: "api.example", certificate: false), .transient),
        (.resolve(host: "api.example", reason: "unknown name"), .transient),
        (.connect(host: "127.0.0.1", port: 9, reason: "127.0.0.1:9: Connection refused"), .transient),
        (.timeout(.receive, host: "api.example"), .transient),
        (.proxy("CONNECT refused with 403"), .transient),
        (.protocol("bad status line"), .transient),
        (.closed(beforeResponse: true), .transient),
        (.io("Connection reset by peer"), .transient),
    ]

    @Test(arguments: table.indices)
    func httpErrorsMapToOutcomes(_ i: Int) {
        let (error, kind) = Self.table[i]
        switch TransportFailure(error) {
        case .transient(let m):
            #expect(kind == .transient, "\(error)")
            #expect(m == error.description)
        case .configuration(let m):
            #expect(kind == .configuration, "\(error)")
            #expect(m == error.description)
        }
    }

    /// The address tried is named once, not twice (host and port already say it).
    @Test(arguments: [
        (HTTPError.connect(host: "127.0.0.1", port: 55017, reason: "127.0.0.1:55017: Connection refused"),
         "cannot connect to 127.0.0.1 port 55017: Connection refused"),
        (.connect(host: "::1", port: 8080, reason: "[::1]:8080: Connection refused"), "cannot connect to ::1 port 8080: Connection refused"),
        (.connect(host: "api.example", port: 443, reason: "203.0.113.7:443: Network is unreachable"),
         "cannot connect to api.example port 443: 203.0.113.7:443: Network is unreachable"),
    ])
    func connectMessagesNameTheAddressOnce(error: HTTPError, message: String) {
        #expect(error.description == message)
        #expect(RetryCause.transport(TransportFailure(error).message).description == "Track API unreachable (\(message))")
    }

    @Test func badSettingsNameTheirKey() {
        var e = TrackEndpoint()
        e.url = "ftp://api.example/api/track"
        #expect(throws: TrackEndpointError.self) { try HTTPTrackTransport(e, poolSize: 1, userAgent: "t", token: "x") }
        do {
            _ = try HTTPTrackTransport(e, poolSize: 1, userAgent: "t", token: "x")
        } catch {
            #expect(error.key == "url" && error.description.hasPrefix("[output] url: "))
        }
        e = TrackEndpoint()
        e.proxy = "not a url"
        do {
            _ = try HTTPTrackTransport(e, poolSize: 1, userAgent: "t", token: "x")
            Issue.record("a bad proxy must be refused")
        } catch {
            #expect(error.key == "proxy")
        }
        let t = try? HTTPTrackTransport(TrackEndpoint(), poolSize: 1, userAgent: "t", token: "x")
        #expect(t?.destination == "https://api.app.thrivestack.ai/api/track")
        t?.close()
    }
}

extension TransportFailure {
    var message: String {
        switch self {
        case .transient(let m), .configuration(let m): m
        }
    }
}
