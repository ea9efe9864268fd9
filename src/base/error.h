/*
 * base/error.h - setting the thread's last error, checking macros, assertions.
 *
 * dtxi_fail() formats a message into the calling thread's last-error buffer
 * (read back by dtx_last_error) and returns the status, so error paths read
 * `return dtxi_fail(DTX_EINVAL, "dtx_graph_add: name is NULL");`.
 */
#ifndef DTXI_ERROR_H
#define DTXI_ERROR_H

#include <stdarg.h>

#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of each thread's last-error buffer; longer messages are truncated to
 * DTXI_LAST_ERROR_MAX - 1 bytes. */
#define DTXI_LAST_ERROR_MAX 1024

dtx_status dtxi_fail(dtx_status s, const char *fmt, ...) DTX_PRINTF(2, 3);
dtx_status dtxi_vfail(dtx_status s, const char *fmt, va_list ap);
/* Sets the last error to a message copied as is (no formatting). */
dtx_status dtxi_fail_msg(dtx_status s, const char *msg);
void dtxi_clear_error(void);
void dtxi_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#define DTX_ASSERT(cond)                                                           \
  do {                                                                             \
    if (__builtin_expect(!(cond), 0)) dtxi_assert_fail(#cond, __FILE__, __LINE__); \
  } while (0)

/* Runs call; on a status other than DTX_OK stores it in rc, logs file:line at
 * debug level, and jumps to label. */
#define DTX_CHECK_GOTO(call, rc, label)                                                           \
  do {                                                                                            \
    (rc) = (call);                                                                                \
    if ((rc) != DTX_OK) {                                                                         \
      DTXI_LOG(DTX_LOG_DEBUG, "%s:%d: %s -> %s", __FILE__, __LINE__, #call, dtx_status_name(rc)); \
      goto label;                                                                                 \
    }                                                                                             \
  } while (0)

#ifdef __cplusplus
}
#endif

#include "base/log.h"

#endif /* DTXI_ERROR_H */
