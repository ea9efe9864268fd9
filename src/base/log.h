/*
 * base/log.h - leveled logging to stderr or DTX_LOG_FILE.
 *
 * The level check is one load of a global before any formatting happens.
 * The library prints nothing below the configured level; the default level
 * is warn, so only bad settings and real trouble are ever printed unasked.
 */
#ifndef DTXI_LOG_H
#define DTXI_LOG_H

#include "dtx/cluster.h"

#ifdef __cplusplus
extern "C" {
#endif

extern int dtxi_log_threshold; /* messages with level <= this are printed */

/* Sets the level and destination (file NULL = stderr). Thread safe. */
void dtxi_log_configure(dtx_log_level level, const char *file);
void dtxi_log(dtx_log_level level, const char *fmt, ...) DTX_PRINTF(2, 3);

#define DTXI_LOG(level, ...)                                                    \
  do {                                                                          \
    if ((int)(level) <= __atomic_load_n(&dtxi_log_threshold, __ATOMIC_RELAXED)) \
      dtxi_log((level), __VA_ARGS__);                                           \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif /* DTXI_LOG_H */
