/*
 * base/size.h - sizes as people write them: "12GiB", "512M", "16GB", "80%".
 */
#ifndef DTXI_SIZE_H
#define DTXI_SIZE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parses a size: a byte count with an optional suffix (K, M, G, T and KiB,
 * MiB, GiB, TiB are powers of 1024; B is bytes; KB, MB, GB, TB are powers of
 * 1000, as in Dask; case ignored; blanks allowed before the suffix; a decimal
 * fraction allowed, rounded down to whole bytes), or a percentage 0..100 of
 * `whole` ("80%", "12.5%"). Writes the byte count to *out and returns 0, or
 * returns -1 (*out untouched) for anything else: junk, a sign, a percentage
 * over 100, a count over LLONG_MAX, a negative whole with a percentage. */
int dtxi_parse_size(const char *s, long long whole, long long *out);
/* A memory limit in bytes from a size text (see dtxi_parse_size) against a
 * memory of `whole` bytes. 0 means no limit: text NULL ("none"), not a size,
 * or a percentage of a memory of unknown size (whole 0). A limit above
 * `whole` is kept as given: the user may know better than the probe. */
size_t dtxi_env_limit_bytes(const char *text, size_t whole);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_SIZE_H */
