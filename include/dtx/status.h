/*
 * dtx/status.h - status codes and the thread's last error message.
 *
 * Every public call that can fail returns a dtx_status. The detailed reason
 * (which task key, which argument, which CUDA call) is kept per thread and read
 * with dtx_last_error() until the next failing call on that thread.
 */
#ifndef DTX_STATUS_H
#define DTX_STATUS_H

#include "dtx/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DTX_STATUS_MAP(X)                                   \
  X(OK, 0, "success")                                       \
  X(EINVAL, -1, "invalid argument")                         \
  X(ENOMEM, -2, "out of memory")                            \
  X(ETASK, -3, "a task failed")                             \
  X(ECANCEL, -4, "cancelled")                               \
  X(EDEVICE, -5, "device error")                            \
  X(ETIMEDOUT, -6, "timed out")                             \
  X(EBUSY, -7, "busy: already running, finished or in use") \
  X(EIO, -8, "input/output error")                          \
  X(ENOTSUP, -9, "not supported by this build")

typedef enum dtx_status {
#define DTX_STATUS_ENUM_(name, value, text) DTX_##name = value,
  DTX_STATUS_MAP(DTX_STATUS_ENUM_)
#undef DTX_STATUS_ENUM_
} dtx_status;

/* "DTX_EINVAL" for DTX_EINVAL; "DTX_UNKNOWN" for a value outside the table. */
DTX_API const char *dtx_status_name(dtx_status s);
/* A short human sentence for the code: "invalid argument". */
DTX_API const char *dtx_strerror(dtx_status s);
/* The calling thread's last detailed error message ("" when none). The pointer
 * stays valid until the next dtx call on this thread. */
DTX_API const char *dtx_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* DTX_STATUS_H */
