/*
 * base/log.c - leveled log lines to stderr or a file (DTX_LOG, DTX_LOG_FILE).
 *
 * Owns the log destination (sink: stderr, or a FILE opened in append mode by
 * dtxi_log_configure and closed when it is reconfigured) and the threshold
 * dtxi_log_threshold. Any thread may log at any time; lock guards sink, and
 * each message is written as one whole line under it, so lines from different
 * threads never interleave. The threshold is written only by
 * dtxi_log_configure (at start-up: reading the environment, creating a
 * cluster), and only when it changes; DTXI_LOG reads it without a lock before
 * any formatting, so a level change races benignly with threads logging.
 *
 * Line format: "dtx WARN 2024-05-01T12:34:56.789: message\n" (local time).
 */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int dtxi_log_threshold = DTX_LOG_WARN;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *sink; /* NULL = stderr; otherwise our own file. Guarded by lock. */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A child forked while another thread holds lock would inherit it locked:
 * hold it across fork so the child gets it released. */
static void fork_prepare(void) { pthread_mutex_lock(&lock); }
static void fork_release(void) { pthread_mutex_unlock(&lock); }
static void register_atfork(void) { pthread_atfork(fork_prepare, fork_release, fork_release); }

static const char *level_word(dtx_log_level level) {
  switch (level) {
    case DTX_LOG_ERROR:
      return "ERROR";
    case DTX_LOG_WARN:
      return "WARN";
    case DTX_LOG_INFO:
      return "INFO";
    case DTX_LOG_DEBUG:
      return "DEBUG";
    default:
      return "LOG";
  }
}

/* Writes one line to the current sink; the caller holds lock. */
static void write_line(dtx_log_level level, const char *msg) {
  char stamp[40] = "";
  struct timespec ts;
  struct tm tm;
  if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && localtime_r(&ts.tv_sec, &tm) != NULL) {
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03ld", ts.tv_nsec / 1000000L);
  }
  size_t len = strlen(msg);
  while (len > 0 && msg[len - 1] == '\n') len--; /* the line ends with exactly one newline */
  FILE *out = sink != NULL ? sink : stderr;
  fprintf(out, "dtx %s %s: %.*s\n", level_word(level), stamp, (int)len, msg);
  fflush(out);
}

/*
 * Sets the threshold and the destination. level DTX_LOG_DEFAULT means warn
 * (the settings table applies DTX_LOG itself; a cluster its log_level).
 * file NULL or "" logs to stderr; a file that cannot be opened logs to stderr
 * and says so once there. The earlier file, if any, is closed.
 */
void dtxi_log_configure(dtx_log_level level, const char *file) {
  pthread_once(&atfork_once, register_atfork);
  if (level == DTX_LOG_DEFAULT) level = DTX_LOG_WARN;
  if (level < DTX_LOG_NONE) level = DTX_LOG_NONE;
  if (level > DTX_LOG_DEBUG) level = DTX_LOG_DEBUG;

  FILE *f = NULL;
  int open_errno = 0;
  if (file != NULL && file[0] != '\0') {
    f = fopen(file, "a");
    if (f == NULL)
      open_errno = errno;
    else
      (void)fcntl(fileno(f), F_SETFD, FD_CLOEXEC);
  }

  pthread_mutex_lock(&lock);
  FILE *old = sink;
  sink = f;
  /* Stored only when it changes, so re-applying the same settings (every
   * dtxi_env_reload) never writes while other threads read it in DTXI_LOG. */
  if (__atomic_load_n(&dtxi_log_threshold, __ATOMIC_RELAXED) != (int)level)
    __atomic_store_n(&dtxi_log_threshold, (int)level, __ATOMIC_RELAXED);
  if (open_errno != 0 && level >= DTX_LOG_WARN) {
    char msg[512];
    snprintf(msg, sizeof msg, "cannot open DTX_LOG_FILE \"%s\" (%s); logging to stderr", file,
             strerror(open_errno));
    write_line(DTX_LOG_WARN, msg);
  }
  pthread_mutex_unlock(&lock);
  if (old != NULL) fclose(old);
}

/* Formats outside the lock (on the stack when short, else on the heap) and
 * writes the whole line under it. */
void dtxi_log(dtx_log_level level, const char *fmt, ...) {
  if ((int)level <= DTX_LOG_NONE || (int)level > __atomic_load_n(&dtxi_log_threshold, __ATOMIC_RELAXED) ||
      fmt == NULL)
    return;
  pthread_once(&atfork_once, register_atfork);

  char small[512];
  char *msg = small;
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (len < 0) return;
  if ((size_t)len >= sizeof small) {
    char *big = malloc((size_t)len + 1);
    if (big != NULL) { /* without memory, log the truncated text */
      va_start(ap, fmt);
      vsnprintf(big, (size_t)len + 1, fmt, ap);
      va_end(ap);
      msg = big;
    }
  }

  pthread_mutex_lock(&lock);
  write_line(level, msg);
  pthread_mutex_unlock(&lock);
  if (msg != small) free(msg);
}
