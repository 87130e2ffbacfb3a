#ifndef TRACKTAIL_COPENSSL_SHIM_H
#define TRACKTAIL_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* C macros that do not import into Swift. */
static inline long tracktail_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline long tracktail_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
/* Tolerate a peer that closes without close_notify (most HTTP servers): OpenSSL 3 reports it as
   an error otherwise; HTTP framing already tells a complete response from a truncated one. */
static inline void tracktail_SSL_CTX_ignore_unexpected_eof(SSL_CTX *ctx) {
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
}
/* Non-blocking writes: allow retrying SSL_write from a buffer that moved, and partial writes. */
static inline long tracktail_SSL_CTX_set_nonblocking_write_modes(SSL_CTX *ctx) {
    return SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}
#endif
