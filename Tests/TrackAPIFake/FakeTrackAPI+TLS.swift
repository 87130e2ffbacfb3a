import Foundation
#if canImport(COpenSSL)
import COpenSSL
#endif

/// TLS for `FakeTrackAPI` (issue 5's TLS test): `makeTestCertificates` writes a throw-away CA and
/// a server certificate with the `openssl` command; `FakeTrackAPI(tls:)` then serves HTTPS with
/// them, so a test can check that tracktail ships with `ca_file` and refuses without it (or for
/// a wrong host). Serving uses OpenSSL through the `COpenSSL` system library; without it the
/// rest of the fake compiles and `init(tls:)` throws.
extension FakeTrackAPI {
    /// PEM files of a test CA and of a server certificate it signed.
    package struct TLSFiles: Sendable {
        /// What tracktail's `ca_file` should name.
        package let caCertificate: String
        package let certificate: String
        package let key: String
        /// The names and addresses the server certificate is valid for.
        package let hosts: [String]
    }

    /// Generates a CA and a server certificate valid for `hosts` (DNS names or IP addresses) into `directory` with the
    /// `openssl` command (P-256 keys, one day). Use hosts that do not match to test hostname verification.
    package static func makeTestCertificates(in directory: String, hosts: [String] = ["localhost", "127.0.0.1"]) throws -> TLSFiles {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        let names = hosts.map { host in
            host.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" }) ? "IP:\(host)" : "DNS:\(host)"
        }.joined(separator: ",")
        let extensions = "subjectAltName=\(names)\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
        try extensions.write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("ca.key"),
             "-out", path("ca.pem"), "-subj", "/CN=tracktail test CA", "-days", "1",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("server.key"),
             "-out", path("server.csr"), "-subj", "/CN=\(hosts.first ?? "localhost")"],
            ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
             "-out", path("server.pem"), "-days", "1", "-extfile", path("server.ext")],
        ]
        for arguments in steps {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            let message = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw FakeError.message("openssl \(arguments[0]) failed: \(String(decoding: message, as: UTF8.self))")
            }
        }
        return TLSFiles(caCertificate: path("ca.pem"), certificate: path("server.pem"), key: path("server.key"), hosts: hosts)
    }
}

#if canImport(COpenSSL)
/// A server-side `SSL_CTX` with the test certificate.
final class FakeTLSContext: @unchecked Sendable {
    let context: OpaquePointer

    init(_ files: FakeTrackAPI.TLSFiles) throws {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw FakeTrackAPI.FakeError.message("SSL_CTX_new failed") }
        self.context = context
        guard SSL_CTX_use_certificate_chain_file(context, files.certificate) == 1,
              SSL_CTX_use_PrivateKey_file(context, files.key, SSL_FILETYPE_PEM) == 1,
              SSL_CTX_check_private_key(context) == 1 else {
            SSL_CTX_free(context)
            throw FakeTrackAPI.FakeError.message("cannot load \(files.certificate) / \(files.key)")
        }
    }

    deinit { SSL_CTX_free(context) }

    /// Runs the server handshake on `fd` (blocking); nil when the client gave up, e.g. because it rejected the certificate.
    func accept(_ fd: Int32) -> FakeSecureChannel? {
        guard let ssl = SSL_new(context) else { return nil }
        SSL_set_fd(ssl, fd)
        guard SSL_accept(ssl) == 1 else {
            SSL_free(ssl)
            return nil
        }
        return FakeSecureChannel(ssl)
    }
}

/// One TLS session, used only by its connection's thread.
final class FakeSecureChannel {
    let ssl: OpaquePointer
    init(_ ssl: OpaquePointer) { self.ssl = ssl }
    deinit { SSL_free(ssl) }

    /// Decrypted bytes already buffered inside OpenSSL (poll(2) on the socket would not see them).
    var hasPending: Bool { SSL_pending(ssl) > 0 }

    /// Like recv(2): bytes read, 0 at the end, -1 on an error.
    func read(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if n > 0 { return Int(n) }
        return SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1
    }

    /// Like send(2): bytes written or -1.
    func write(_ buffer: UnsafeRawBufferPointer) -> Int {
        let n = SSL_write(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        return n > 0 ? Int(n) : -1
    }
}
#else
/// Without `COpenSSL` there is no TLS; these stand-ins are never instantiated.
final class FakeTLSContext: @unchecked Sendable {
    init(_ files: FakeTrackAPI.TLSFiles) throws {
        throw FakeTrackAPI.FakeError.message("FakeTrackAPI TLS needs the test target to depend on COpenSSL")
    }
    func accept(_ fd: Int32) -> FakeSecureChannel? { nil }
}

final class FakeSecureChannel {
    var hasPending: Bool { false }
    func read(_ buffer: UnsafeMutableRawBufferPointer) -> Int { -1 }
    func write(_ buffer: UnsafeRawBufferPointer) -> Int { -1 }
}
#endif
