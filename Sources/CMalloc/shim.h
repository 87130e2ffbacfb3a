#ifndef TRACKTAIL_CMALLOC_SHIM_H
#define TRACKTAIL_CMALLOC_SHIM_H
/* glibc's allocator controls (mallopt), which Swift's Glibc module does not import.
   Only the Posix module uses this. */
#include <malloc.h>

static const int tracktail_M_ARENA_MAX = M_ARENA_MAX;
static const int tracktail_M_TRIM_THRESHOLD = M_TRIM_THRESHOLD;
static const int tracktail_M_MMAP_THRESHOLD = M_MMAP_THRESHOLD;
static const int tracktail_M_TOP_PAD = M_TOP_PAD;
#endif
