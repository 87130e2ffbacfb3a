import COpenSSL
import Posix

/// The client-side OpenSSL context, built once per `HTTPClient`: the system CA store plus an
/// optional extra CA file, peer verification on, TLS 1.2 minimum. `SSL_CTX` is safe to share
/// between threads once configured; each connection makes its own `SSL` from it.
final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    init(caFile: String?) throws(HTTPError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw .tls(reason: "cannot create TLS context: \(TLSContext.errorQueue())", host: "", certificate: false)
        }
        context = ctx
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        guard tracktail_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 else {
            throw .tls(reason: "cannot require TLS 1.2: \(TLSContext.errorQueue())", host: "", certificate: false)
        }
        tracktail_SSL_CTX_ignore_unexpected_eof(ctx)
        _ = tracktail_SSL_CTX_set_nonblocking_write_modes(ctx)
        // A host without a CA bundle still works with ca_file alone, so a failure here is not fatal.
        _ = SSL_CTX_set_default_verify_paths(ctx)
        ERR_clear_error()
        if let caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                throw .tls(reason: "cannot load ca_file \(caFile): \(TLSContext.errorQueue())", host: "", certificate: true)
            }
        }
    }

    deinit { SSL_CTX_free(context) }

    /// Drains this thread's OpenSSL error queue into one line.
    static func errorQueue() -> String {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            parts.append(text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        return parts.isEmpty ? "unknown error" : parts.joined(separator: "; ")
    }
}

/// One TLS session over a connected non-blocking socket.
struct TLSSession {
    let ssl: OpaquePointer

    /// Creates the session with SNI (DNS names only: RFC 6066 forbids IP literals) and the
    /// expected identity: a DNS name checked against the certificate's names, or an IP address
    /// checked against its IP subjectAltNames.
    init(context: TLSContext, descriptor: Int32, host: String, hostIsIPAddress: Bool) throws(HTTPError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.context) else {
            throw .tls(reason: "SSL_new: \(TLSContext.errorQueue())", host: host, certificate: false)
        }
        self.ssl = ssl
        var ok = SSL_set_fd(ssl, descriptor) == 1
        if hostIsIPAddress {
            ok = ok && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1
        } else {
            ok = ok && tracktail_SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1
        }
        if !ok {
            let reason = TLSContext.errorQueue()
            SSL_free(ssl)
            throw .tls(reason: "cannot set up TLS for \(host): \(reason)", host: host, certificate: false)
        }
    }

    func free() { SSL_free(ssl) }

    /// What a non-blocking `SSL_*` call needs next.
    enum Step {
        case done(Int)
        case wantRead
        case wantWrite
        case closed
        case failed(HTTPError)
    }

    /// Classifies the return value `rc` of `SSL_connect`/`SSL_read`/`SSL_write`.
    func step(_ rc: Int32, host: String, errnoValue: Int32, handshake: Bool) -> Step {
        if rc > 0 { return .done(Int(rc)) }
        let code = SSL_get_error(ssl, rc)
        switch code {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            ERR_clear_error()
            if errnoValue == 0 || errnoValue == Errno.connectionReset || errnoValue == Errno.brokenPipe { return .closed }
            return .failed(.io("TLS: \(Errno.message(for: errnoValue))"))
        default:
            if handshake {
                let verify = SSL_get_verify_result(ssl)
                if verify != Int(X509_V_OK) {
                    ERR_clear_error()
                    let reason = String(cString: X509_verify_cert_error_string(verify))
                    return .failed(.tls(reason: reason, host: host, certificate: true))
                }
            }
            return .failed(.tls(reason: TLSContext.errorQueue(), host: host, certificate: false))
        }
    }
}
