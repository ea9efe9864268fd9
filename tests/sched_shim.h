/*
 * tests/sched_shim.h - C entry points onto the scheduler's lock-free parts
 * (scheduler/deque.h, scheduler/notifier.h) for the C++ tests.
 *
 * Those headers use C11 _Atomic, which C++17 cannot read, so the tests reach
 * them through tests/sched_shim.c: compiled as C against the real headers,
 * each function forwards to one dtxi_ call, and the handles are opaque here.
 */
#ifndef DTX_TESTS_SCHED_SHIM_H
#define DTX_TESTS_SCHED_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dtxt_deque dtxt_deque;
typedef struct dtxt_notifier dtxt_notifier;

/* dtxi_deque_init / destroy on a heap deque; NULL when init failed. */
dtxt_deque *dtxt_deque_new(int64_t capacity);
void dtxt_deque_free(dtxt_deque *d);
int dtxt_deque_push(dtxt_deque *d, uintptr_t item);
uintptr_t dtxt_deque_pop(dtxt_deque *d);
uintptr_t dtxt_deque_steal(dtxt_deque *d);
int64_t dtxt_deque_size(dtxt_deque *d);
/* Slots in the current array (owner only, or when no thread is pushing). */
int64_t dtxt_deque_capacity(dtxt_deque *d);

dtxt_notifier *dtxt_notifier_new(void);
void dtxt_notifier_free(dtxt_notifier *n);
uint64_t dtxt_notifier_prepare(dtxt_notifier *n);
void dtxt_notifier_cancel(dtxt_notifier *n);
void dtxt_notifier_commit(dtxt_notifier *n, uint64_t epoch);
void dtxt_notifier_notify(dtxt_notifier *n, int all);
uint64_t dtxt_notifier_epoch(dtxt_notifier *n);
int dtxt_notifier_waiters(dtxt_notifier *n);

#ifdef __cplusplus
}
#endif

#endif /* DTX_TESTS_SCHED_SHIM_H */
