/*
 * base/error.c - status names, the thread's last error message, assertions.
 *
 * Owns one thread-local buffer per thread (last_error, DTXI_LAST_ERROR_MAX
 * bytes, always NUL terminated, "" until the thread's first failure). Every
 * thread that makes dtx calls touches only its own buffer, so nothing here
 * locks. The status tables are generated from DTX_STATUS_MAP, so a new row in
 * dtx/status.h needs no edit here.
 */
#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

static _Thread_local char last_error[DTXI_LAST_ERROR_MAX];

const char *dtx_status_name(dtx_status s) {
  switch (s) {
#define NAME_CASE_(name, value, text) \
  case DTX_##name:                    \
    return "DTX_" #name;
    DTX_STATUS_MAP(NAME_CASE_)
#undef NAME_CASE_
  }
  return "DTX_UNKNOWN";
}

const char *dtx_strerror(dtx_status s) {
  switch (s) {
#define TEXT_CASE_(name, value, text) \
  case DTX_##name:                    \
    return text;
    DTX_STATUS_MAP(TEXT_CASE_)
#undef TEXT_CASE_
  }
  return "unknown status";
}

const char *dtx_last_error(void) { return last_error; }

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8
 * sequence, so a truncated message never ends in half a character. */
static size_t utf8_clip(const char *s, size_t n) {
  size_t i = n, back = 0;
  while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--, back++;
  if (i == 0) return n;
  unsigned char lead = (unsigned char)s[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (need > 1 && back + 1 < need) return i - 1; /* cut before the partial character */
  return n;
}

/* Copies msg (which may point into last_error itself) into the buffer,
 * truncating to DTXI_LAST_ERROR_MAX - 1 bytes, and logs it at debug level. */
static dtx_status set_error(dtx_status s, const char *msg) {
  size_t n = strlen(msg);
  if (n >= sizeof last_error) n = utf8_clip(msg, sizeof last_error - 1);
  memmove(last_error, msg, n);
  last_error[n] = '\0';
  DTXI_LOG(DTX_LOG_DEBUG, "error %s: %s", dtx_status_name(s), last_error);
  return s;
}

/* Formats into a scratch buffer first, so the arguments may quote
 * dtx_last_error() (wrapping an inner error with context). */
dtx_status dtxi_vfail(dtx_status s, const char *fmt, va_list ap) {
  char tmp[DTXI_LAST_ERROR_MAX];
  if (fmt == NULL) return set_error(s, "");
  int len = vsnprintf(tmp, sizeof tmp, fmt, ap);
  if (len < 0) return set_error(s, fmt);
  if ((size_t)len >= sizeof tmp) tmp[utf8_clip(tmp, sizeof tmp - 1)] = '\0';
  return set_error(s, tmp);
}

dtx_status dtxi_fail(dtx_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  s = dtxi_vfail(s, fmt, ap);
  va_end(ap);
  return s;
}

dtx_status dtxi_fail_msg(dtx_status s, const char *msg) { return set_error(s, msg != NULL ? msg : ""); }

void dtxi_clear_error(void) { last_error[0] = '\0'; }

void dtxi_assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "dtx: assertion failed: %s (%s:%d)\n", expr, file, line);
  fflush(stderr);
  abort();
}
