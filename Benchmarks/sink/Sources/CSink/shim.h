#ifndef TRACK_SINK_SHIM_H
#define TRACK_SINK_SHIM_H
#include <stddef.h>
#include <sys/socket.h>
#include <zlib.h>

/* GNU extensions that the Glibc module does not export without _GNU_SOURCE. */
extern void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

/* inflateInit2 is a macro, which Swift does not import. */
static inline int sink_inflate_init(z_streamp stream) {
    return inflateInit2(stream, 15 + 32); /* gzip or zlib, told by the header */
}
#endif
