/*
 * dtx/future.h - futures (Dask's client.submit): eager tasks on the cluster.
 *
 * dtx_submit schedules a task now; its inputs are other futures. Submit from
 * any thread, including from inside a running task; a task that waits on a
 * future lends its worker to other work while it waits, so the pool never
 * deadlocks on nested waits. Every future returned must be released.
 */
#ifndef DTX_FUTURE_H
#define DTX_FUTURE_H

#include <stddef.h>

#include "dtx/cluster.h"
#include "dtx/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dtx_future dtx_future;
typedef struct dtx_as_completed dtx_as_completed;

/* Submits desc (desc->inputs must be NULL) with the given input futures. The
 * inputs are read by dtx_task_input in order. Writes *out only on success. */
DTX_API dtx_status dtx_submit(dtx_cluster *cl, const dtx_task_desc *desc, dtx_future *const *inputs,
                              int ninputs, dtx_future **out);

/* Waits until the future finished (done, failed or cancelled). timeout_ms < 0
 * waits forever. DTX_OK once finished, DTX_ETIMEDOUT otherwise. Called from
 * inside a task, the worker runs other queued tasks while it waits (so the
 * pool never deadlocks on nested waits); the call then returns once the task
 * it is running is done, which may be after the timeout. */
DTX_API dtx_status dtx_future_wait(dtx_future *f, int64_t timeout_ms);
/* True once the future finished. */
DTX_API int dtx_future_done(const dtx_future *f);
/* DTX_OK (done), DTX_ETASK (it or an input failed), DTX_ECANCEL, or DTX_EBUSY
 * while still pending or running. */
DTX_API dtx_status dtx_future_status(const dtx_future *f);
/* Waits, then gives the result's bytes (valid until the future is released).
 * On failure returns DTX_ETASK / DTX_ECANCEL with dtx_last_error() set. */
DTX_API dtx_status dtx_future_result(dtx_future *f, const void **data, size_t *size);
/* "key: message" of the failure; NULL when none. */
DTX_API const char *dtx_future_error(const dtx_future *f);
/* Cancels a task that has not started, and everything depending on it.
 * DTX_OK if cancelled; DTX_EBUSY if it is running or finished already. */
DTX_API dtx_status dtx_future_cancel(dtx_future *f);
/* Drops the caller's handle. The task still runs if others depend on it. */
DTX_API void dtx_future_release(dtx_future *f);

/* Waits for all; fills data/sizes (either may be NULL); returns the first error. */
DTX_API dtx_status dtx_gather(dtx_future *const *fs, int n, const void **data, size_t *sizes,
                              int64_t timeout_ms);
/* Waits until one of fs finished; its index in *index. */
DTX_API dtx_status dtx_wait_any(dtx_future *const *fs, int n, int64_t timeout_ms, int *index);

/* Yields the futures in the order they finish. */
DTX_API dtx_status dtx_as_completed_create(dtx_future *const *fs, int n, dtx_as_completed **out);
/* Next finished future (a borrowed pointer, one of the inputs) in *f; DTX_OK,
 * DTX_ETIMEDOUT, or DTX_EINVAL once all were returned (then *f = NULL). */
DTX_API dtx_status dtx_as_completed_next(dtx_as_completed *it, int64_t timeout_ms, dtx_future **f);
DTX_API void dtx_as_completed_destroy(dtx_as_completed *it);

#ifdef __cplusplus
}
#endif
#endif /* DTX_FUTURE_H */
