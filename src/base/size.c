/*
 * base/size.c - sizes as people write them ("12GiB", "512M", "80%"), for the
 * memory limits (DTX_DEVICE_MEMORY_LIMIT, DTX_HOST_MEMORY_LIMIT and their
 * config fields).
 *
 * Pure functions: no state, any thread.
 */
#include "base/size.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* The multiplier of a size suffix (case ignored): "" and B are bytes; K, KI,
 * KIB powers of 1024; KB powers of 1000; likewise M, G, T. 0 if unknown. */
static long long size_unit(const char *u) {
  static const char letters[] = "kmgt";
  if (u[0] == '\0' || strcasecmp(u, "b") == 0) return 1;
  const char *at = strchr(letters, tolower((unsigned char)u[0]));
  if (at == NULL) return 0;
  int power = (int)(at - letters) + 1;
  long long binary = 1LL << (10 * power), decimal = 1;
  for (int i = 0; i < power; i++) decimal *= 1000;
  const char *rest = u + 1;
  if (rest[0] == '\0' || strcasecmp(rest, "i") == 0 || strcasecmp(rest, "ib") == 0) return binary;
  if (strcasecmp(rest, "b") == 0) return decimal;
  return 0;
}

/* See config.h. The integer part is read exactly (a count up to LLONG_MAX
 * loses nothing to floating point); only a fraction goes through double. */
int dtxi_parse_size(const char *s, long long whole, long long *out) {
  if (s == NULL) return -1;
  const char *p = s;
  unsigned long long ip = 0;
  int digits = 0, fdigits = 0;
  double frac = 0.0, scale = 0.1;
  for (; isdigit((unsigned char)*p); p++, digits++) {
    unsigned d = (unsigned)(*p - '0');
    if (ip > (ULLONG_MAX - d) / 10) return -1;
    ip = ip * 10 + d;
  }
  if (*p == '.') {
    for (p++; isdigit((unsigned char)*p); p++, fdigits++, scale /= 10) frac += (*p - '0') * scale;
    if (fdigits == 0) return -1; /* "5." */
  }
  if (digits + fdigits == 0 || ip > (unsigned long long)LLONG_MAX) return -1;
  while (*p == ' ' || *p == '\t') p++;

  long long v;
  if (*p == '%') {
    if (p[1] != '\0' || whole < 0 || ip > 100 || (ip == 100 && frac > 0.0)) return -1;
    if (frac == 0.0) {
      /* whole * ip / 100 without overflow: ip <= 100. */
      v = whole / 100 * (long long)ip + whole % 100 * (long long)ip / 100;
    } else {
      long double x = floorl((long double)whole * ((long double)ip + frac) / 100.0L);
      v = x >= (long double)whole ? whole : (long long)x;
    }
  } else {
    if (strlen(p) > 3) return -1;
    long long unit = size_unit(p);
    if (unit == 0 || (long long)ip > LLONG_MAX / unit) return -1;
    v = (long long)ip * unit;
    long long part = (long long)(frac * (double)unit); /* < unit: frac < 1 */
    if (v > LLONG_MAX - part) return -1;
    v += part;
  }
  *out = v;
  return 0;
}

size_t dtxi_env_limit_bytes(const char *text, size_t whole) {
  long long v;
  if (text == NULL) return 0;
  if (dtxi_parse_size(text, whole > (size_t)LLONG_MAX ? LLONG_MAX : (long long)whole, &v) != 0 || v <= 0)
    return 0;
  return (size_t)v;
}
