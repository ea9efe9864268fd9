/*
 * scheduler/future.c - futures: eager tasks on the cluster's worker pool.
 *
 * Owns: dtx_future nodes and dtx_as_completed iterators.
 * Threads: any thread submits, waits, cancels and releases; workers run and
 * finish futures.
 *
 * Life of a future: WAITING (inputs unfinished, or queued) -> RUNNING -> DONE
 * or ERRED; or WAITING -> CANCELLED. `pending` counts unfinished inputs plus
 * one held by dtx_submit while it registers; whoever brings it to zero queues
 * the job. References: one for the user's handle, one for the job (the
 * "scheduling" reference, dropped when the job has run or was skipped). A
 * future is on the cluster's `live` list from submit until it has finished
 * and handed on to its dependents; cluster destroy waits for that list.
 * Lock order: future->mu, then an iterator's mu; cluster->fmu, then
 * cluster->live_lock (a spin lock held for a few pointer moves).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "dtx/future.h"
#include "scheduler/sched.h"
#include "scheduler/task.h"

enum { F_WAITING, F_RUNNING, F_DONE, F_ERRED, F_CANCELLED };

struct dtx_future {
  _Atomic int refs;
  _Atomic int finished; /* 1 once state, out and err are final */
  _Atomic int pending;
  dtx_cluster *cl;
  pthread_mutex_t mu;
  int state; /* guarded by mu */
  char *name;
  int nidx;
  int64_t idx[DTX_MAX_INDICES];
  void *args;
  size_t args_size;
  dtx_task_fn cpu;
  int retries;
  dtx_future **inputs; /* referenced until this future finished */
  int ninputs;
  dtx_future **deps; /* dependents, guarded by mu */
  int ndeps, capdeps;
  dtx_as_completed **watch; /* iterators to tell, guarded by mu */
  int nwatch, capwatch;
  dtx_chunk *out;
  char *err;
  dtx_future *live_prev, *live_next; /* guarded by dtxi_sched_of(cl)->live_lock */
};

struct dtx_as_completed {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  dtx_future **fs;
  int n;
  dtx_future **queue;
  int qhead, qlen, returned;
};

/* ---- small helpers -------------------------------------------------------- */

static void live_lock(dtx_cluster *cl) {
  while (atomic_exchange_explicit(&dtxi_sched_of(cl)->live_lock, 1, memory_order_acquire) != 0)
    while (atomic_load_explicit(&dtxi_sched_of(cl)->live_lock, memory_order_relaxed) != 0) dtxi_cpu_relax();
}

static void live_unlock(dtx_cluster *cl) {
  atomic_store_explicit(&dtxi_sched_of(cl)->live_lock, 0, memory_order_release);
}

static void future_unref(dtx_future *f) {
  if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) return;
  dtxi_chunk_unref(f->out);
  for (int i = 0; i < f->ninputs; i++) future_unref(f->inputs[i]);
  free(f->inputs);
  free(f->deps);
  free(f->watch);
  free(f->err);
  free(f->args);
  free(f->name);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

static int push_ptr(void ***v, int *n, int *cap, void *p) {
  if (*n == *cap) {
    int ncap = *cap ? *cap * 2 : 4;
    void **nv = realloc(*v, (size_t)ncap * sizeof *nv);
    if (nv == NULL) return -1;
    *v = nv;
    *cap = ncap;
  }
  (*v)[(*n)++] = p;
  return 0;
}

static void deadline_after(struct timespec *ts, int64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000;
  if (ts->tv_nsec >= 1000000000) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000;
  }
}

static int past(const struct timespec *d) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

/* The earlier of the deadline and 1 ms from now (workers re-check for work). */
static struct timespec soon(const struct timespec *deadline, int have_deadline) {
  struct timespec t;
  deadline_after(&t, 1);
  if (have_deadline &&
      (deadline->tv_sec < t.tv_sec || (deadline->tv_sec == t.tv_sec && deadline->tv_nsec < t.tv_nsec)))
    return *deadline;
  return t;
}

int dtxi_future_ninputs(const dtx_future *f) { return f->ninputs; }
const dtx_chunk *dtxi_future_input(const dtx_future *f, int i) {
  return i < f->ninputs ? f->inputs[i]->out : NULL;
}
const void *dtxi_future_args(const dtx_future *f, size_t *size) {
  if (size != NULL) *size = f->args_size;
  return f->args;
}
void dtxi_future_key(const dtx_future *f, char *buf, size_t n) {
  dtxi_key_format(f->name, f->nidx, f->idx, buf, n);
}

static void schedule(dtx_future *f) {
  dtxi_pool_submit(dtxi_sched_of(f->cl)->pool, (dtxi_job)f | DTXI_JOB_FUTURE);
}

static void iter_push(dtx_as_completed *it, dtx_future *f) {
  pthread_mutex_lock(&it->mu);
  it->queue[it->qlen++] = f;
  pthread_cond_broadcast(&it->cv);
  pthread_mutex_unlock(&it->mu);
}

/*
 * Makes f final: publishes its result, tells iterators, queues dependents
 * whose last input this was, drops its inputs, leaves the live list and
 * wakes waiters. With `cancelled` non-NULL, the dependents are returned there
 * (each with a reference) for the caller to cancel in turn.
 */
static void finalize(dtx_future *f, int state, dtx_chunk *out, char *err, dtx_future ***cancelled,
                     int *ncancelled) {
  dtx_cluster *cl = f->cl;
  pthread_mutex_lock(&f->mu);
  f->state = state;
  f->out = out;
  f->err = err;
  dtx_future **deps = f->deps;
  int ndeps = f->ndeps;
  f->deps = NULL;
  f->ndeps = f->capdeps = 0;
  atomic_store(&f->finished, 1);
  for (int i = 0; i < f->nwatch; i++) iter_push(f->watch[i], f);
  f->nwatch = 0;
  pthread_mutex_unlock(&f->mu);

  for (int i = 0; i < ndeps; i++) {
    dtx_future *d = deps[i];
    if (cancelled != NULL) atomic_fetch_add(&d->refs, 1);
    if (atomic_fetch_sub_explicit(&d->pending, 1, memory_order_acq_rel) == 1) schedule(d);
  }
  if (cancelled != NULL) {
    *cancelled = deps;
    *ncancelled = ndeps;
  } else {
    free(deps);
  }
  dtx_future **inputs = f->inputs;
  int ninputs = f->ninputs;
  f->inputs = NULL;
  f->ninputs = 0;
  for (int i = 0; i < ninputs; i++) future_unref(inputs[i]);
  free(inputs);

  live_lock(cl);
  if (f->live_prev != NULL)
    f->live_prev->live_next = f->live_next;
  else
    dtxi_sched_of(cl)->live = f->live_next;
  if (f->live_next != NULL) f->live_next->live_prev = f->live_prev;
  f->live_prev = f->live_next = NULL;
  int closing = dtxi_sched_of(cl)->closing;
  live_unlock(cl);
  /* `finished` (stored above) and `fwaiters` are both sequentially consistent:
   * either the waiter sees the future finished, or this sees the waiter. */
  if (closing || atomic_load(&dtxi_sched_of(cl)->fwaiters) > 0) {
    pthread_mutex_lock(&dtxi_sched_of(cl)->fmu);
    pthread_cond_broadcast(&dtxi_sched_of(cl)->fcv);
    pthread_mutex_unlock(&dtxi_sched_of(cl)->fmu);
  }
}

static char *with_key(const dtx_future *f, const char *msg) {
  char key[DTX_MAX_KEY];
  dtxi_future_key(f, key, sizeof key);
  size_t len = strlen(key) + strlen(msg) + 3;
  char *s = malloc(len);
  if (s != NULL) snprintf(s, len, "%s: %s", key, msg);
  return s;
}

/* Cancels root and, breadth first, every waiting future depending on it. */
static int cancel_tree(dtx_future *root) {
  dtx_future **work = NULL;
  int nwork = 0, capwork = 0, cancelled_root = 0;
  char *msg = NULL;
  atomic_fetch_add(&root->refs, 1);
  if (push_ptr((void ***)&work, &nwork, &capwork, root) != 0) {
    future_unref(root);
    return 0;
  }
  for (int next = 0; next < nwork; next++) {
    dtx_future *f = work[next];
    pthread_mutex_lock(&f->mu);
    int waiting = f->state == F_WAITING;
    if (waiting) f->state = F_CANCELLED;
    pthread_mutex_unlock(&f->mu);
    if (waiting) {
      if (f == root) {
        cancelled_root = 1;
        msg = with_key(f, "cancelled");
      }
      dtx_future **deps = NULL;
      int ndeps = 0;
      finalize(f, F_CANCELLED, NULL, msg != NULL ? strdup(msg) : NULL, &deps, &ndeps);
      for (int i = 0; i < ndeps; i++)
        if (push_ptr((void ***)&work, &nwork, &capwork, deps[i]) != 0) future_unref(deps[i]);
      free(deps);
    }
  }
  for (int i = 0; i < nwork; i++) future_unref(work[i]);
  free(work);
  free(msg);
  return cancelled_root;
}

/* ---- running ------------------------------------------------------------------ */

/* The key of input i of future ctx: for the trace. */
static void input_key(void *ctx, uint32_t i, char *buf, size_t n) {
  dtxi_future_key(((const dtx_future *)ctx)->inputs[i], buf, n);
}

void dtxi_future_exec(dtxi_worker *w, dtx_future *f) {
  pthread_mutex_lock(&f->mu);
  int claimed = f->state == F_WAITING;
  if (claimed) f->state = F_RUNNING;
  pthread_mutex_unlock(&f->mu);
  if (!claimed) { /* cancelled while queued */
    future_unref(f);
    return;
  }
  dtx_cluster *cl = f->cl;
  for (int i = 0; i < f->ninputs; i++) {
    const dtx_future *in = f->inputs[i];
    if (in->state == F_ERRED || in->state == F_CANCELLED) {
      finalize(f, in->state, NULL, in->err != NULL ? strdup(in->err) : NULL, NULL, NULL);
      future_unref(f);
      return;
    }
  }
  dtx_task_ctx ctx = {.cl = cl, .worker = w != NULL ? w->index : -1, .fut = f, .out_refs = 1};
  char *msg = NULL;
  int bad = 0;
  uint64_t t0 = 0, t1 = 0;
  for (int attempt = 0;; attempt++) {
    ctx.attempt = attempt;
    free(msg);
    if (dtxi_sched_of(cl)->nvtx) dtxi_nvtx_push(f->name, f->nidx > 0 ? f->idx[0] : 0);
    if (dtxi_sched_of(cl)->trace != NULL) t0 = dtxi_now_ns();
    bad = dtxi_task_invoke(&ctx, f->cpu, f->name, f->nidx, f->idx, &msg);
    if (dtxi_sched_of(cl)->trace != NULL) t1 = dtxi_now_ns();
    if (dtxi_sched_of(cl)->nvtx) dtxi_nvtx_pop();
    if (w != NULL) {
      atomic_store_explicit(&w->tasks_run, atomic_load_explicit(&w->tasks_run, memory_order_relaxed) + 1,
                            memory_order_relaxed);
      if (bad)
        atomic_store_explicit(&w->tasks_failed,
                              atomic_load_explicit(&w->tasks_failed, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    } else {
      dtxi_sched_count(dtxi_sched_of(cl), 1, bad);
    }
    if (dtxi_sched_of(cl)->trace != NULL) {
      char key[DTX_MAX_KEY];
      dtxi_future_key(f, key, sizeof key);
      int tid = w != NULL ? w->index + 1 : dtxi_trace_caller_tid(dtxi_sched_of(cl)->trace);
      dtxi_trace_task(dtxi_sched_of(cl)->trace, 1, tid, key, "future", f->name, t0, t1, (uint32_t)f->ninputs,
                      input_key, f, bad ? (msg != NULL ? msg : "failed") : NULL, NULL);
    }
    if (!bad || attempt >= f->retries) break;
  }
  if (bad && msg == NULL) msg = with_key(f, "failed (out of memory recording the message)");
  finalize(f, bad ? F_ERRED : F_DONE, ctx.out, msg, NULL, NULL);
  future_unref(f);
}

/* ---- public ---------------------------------------------------------------------- */

dtx_status dtx_submit(dtx_cluster *cl, const dtx_task_desc *desc, dtx_future *const *inputs, int ninputs,
                      dtx_future **out) {
  if (cl == NULL) return dtxi_fail(DTX_EINVAL, "dtx_submit: cluster is NULL");
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "dtx_submit: out is NULL");
  dtx_status rc = dtxi_desc_check("dtx_submit", desc, 0);
  if (rc != DTX_OK) return rc;
  if (desc->cpu == NULL)
    return dtxi_fail(DTX_EINVAL,
                     "dtx_submit: task '%s' has only a CUDA implementation; this cluster runs no GPUs",
                     desc->name);
  if (ninputs < 0 || (ninputs > 0 && inputs == NULL))
    return dtxi_fail(DTX_EINVAL, "dtx_submit: task '%s': inputs is NULL or ninputs (%d) < 0", desc->name,
                     ninputs);
  for (int i = 0; i < ninputs; i++) {
    if (inputs[i] == NULL)
      return dtxi_fail(DTX_EINVAL, "dtx_submit: task '%s': input %d is NULL", desc->name, i);
    if (inputs[i]->cl != cl)
      return dtxi_fail(DTX_EINVAL, "dtx_submit: task '%s': input %d belongs to another cluster", desc->name,
                       i);
  }
  dtx_future *f = calloc(1, sizeof *f);
  if (f == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_submit: out of memory");
  f->cl = cl;
  pthread_mutex_init(&f->mu, NULL);
  f->state = F_WAITING;
  f->nidx = desc->nidx;
  memcpy(f->idx, desc->idx, sizeof f->idx);
  f->cpu = desc->cpu;
  f->retries = desc->retries;
  f->args_size = desc->args_size;
  f->name = strdup(desc->name);
  f->args = desc->args_size > 0 ? malloc(desc->args_size) : NULL;
  f->inputs = ninputs > 0 ? malloc((size_t)ninputs * sizeof *f->inputs) : NULL;
  if (f->name == NULL || (desc->args_size > 0 && f->args == NULL) || (ninputs > 0 && f->inputs == NULL)) {
    atomic_init(&f->refs, 1);
    future_unref(f);
    return dtxi_fail(DTX_ENOMEM, "dtx_submit: out of memory");
  }
  if (desc->args_size > 0) memcpy(f->args, desc->args, desc->args_size);
  for (int i = 0; i < ninputs; i++) {
    f->inputs[i] = inputs[i];
    atomic_fetch_add(&inputs[i]->refs, 1);
  }
  f->ninputs = ninputs;
  atomic_init(&f->refs, 2);
  atomic_init(&f->pending, 1);
  atomic_init(&f->finished, 0);

  live_lock(cl);
  if (dtxi_sched_of(cl)->closing) {
    live_unlock(cl);
    atomic_store(&f->refs, 1);
    future_unref(f);
    return dtxi_fail(DTX_ECANCEL, "dtx_submit: task '%s': the cluster is shutting down", desc->name);
  }
  f->live_next = dtxi_sched_of(cl)->live;
  if (dtxi_sched_of(cl)->live != NULL) dtxi_sched_of(cl)->live->live_prev = f;
  dtxi_sched_of(cl)->live = f;
  live_unlock(cl);

  for (int i = 0; i < ninputs; i++) {
    dtx_future *in = inputs[i];
    pthread_mutex_lock(&in->mu);
    if (!atomic_load_explicit(&in->finished, memory_order_relaxed)) {
      if (push_ptr((void ***)&in->deps, &in->ndeps, &in->capdeps, f) == 0) {
        atomic_fetch_add(&f->pending, 1);
      } else {
        /* No memory to register: wait for the input right here instead. */
        pthread_mutex_unlock(&in->mu);
        dtx_future_wait(in, -1);
        continue;
      }
    }
    pthread_mutex_unlock(&in->mu);
  }
  *out = f;
  atomic_fetch_add(&f->refs, 0);
  if (atomic_fetch_sub_explicit(&f->pending, 1, memory_order_acq_rel) == 1) schedule(f);
  return DTX_OK;
}

int dtx_future_done(const dtx_future *f) { return f != NULL && atomic_load(&((dtx_future *)f)->finished); }

#define SPIN_NS 30000 /* a waiter spins this long before it sleeps */

static int ready(dtx_future *const *fs, int n, int any) {
  if (any) {
    for (int i = 0; i < n; i++)
      if (dtx_future_done(fs[i])) return 1;
    return 0;
  }
  for (int i = 0; i < n; i++)
    if (!dtx_future_done(fs[i])) return 0;
  return 1;
}

static dtx_status wait_until(dtx_cluster *cl, dtx_future *const *fs, int n, int any, int64_t timeout_ms,
                             int *index) {
  struct timespec deadline;
  int have_deadline = timeout_ms >= 0;
  if (have_deadline) deadline_after(&deadline, timeout_ms);
  dtxi_worker *w = dtxi_pool_self(dtxi_sched_of(cl)->pool);
  if (w == NULL && timeout_ms != 0) {
    /* Short tasks finish within microseconds: spin a little before sleeping,
     * since a sleep and a wake-up cost more than that. Bounded; never a busy wait. */
    uint64_t until = dtxi_now_ns() + SPIN_NS;
    for (int k = 0; !ready(fs, n, any); k++) {
      dtxi_cpu_relax();
      if ((k & 63) == 63 && dtxi_now_ns() > until) break;
    }
  }
  for (;;) {
    int ndone = 0;
    for (int i = 0; i < n; i++) {
      if (dtx_future_done(fs[i])) {
        ndone++;
        if (any) {
          if (index != NULL) *index = i;
          return DTX_OK;
        }
      }
    }
    if (!any && ndone == n) return DTX_OK;
    if (have_deadline && past(&deadline))
      return dtxi_fail(DTX_ETIMEDOUT, "wait timed out after %lld ms", (long long)timeout_ms);
    /* A task waiting on futures lends its worker to other work meanwhile. */
    if (w != NULL && dtxi_pool_help(dtxi_sched_of(cl)->pool, w)) continue;
    pthread_mutex_lock(&dtxi_sched_of(cl)->fmu);
    atomic_fetch_add(&dtxi_sched_of(cl)->fwaiters, 1);
    if (!ready(fs, n, any)) {
      if (w != NULL || have_deadline) {
        struct timespec t = w != NULL ? soon(&deadline, have_deadline) : deadline;
        pthread_cond_timedwait(&dtxi_sched_of(cl)->fcv, &dtxi_sched_of(cl)->fmu, &t);
      } else {
        pthread_cond_wait(&dtxi_sched_of(cl)->fcv, &dtxi_sched_of(cl)->fmu);
      }
    }
    atomic_fetch_sub(&dtxi_sched_of(cl)->fwaiters, 1);
    pthread_mutex_unlock(&dtxi_sched_of(cl)->fmu);
  }
}

dtx_status dtx_future_wait(dtx_future *f, int64_t timeout_ms) {
  if (f == NULL) return dtxi_fail(DTX_EINVAL, "dtx_future_wait: future is NULL");
  if (dtx_future_done(f)) return DTX_OK;
  return wait_until(f->cl, &f, 1, 0, timeout_ms, NULL);
}

dtx_status dtx_future_status(const dtx_future *f) {
  if (f == NULL) return dtxi_fail(DTX_EINVAL, "dtx_future_status: future is NULL");
  if (!dtx_future_done(f)) return DTX_EBUSY;
  return f->state == F_DONE ? DTX_OK : f->state == F_CANCELLED ? DTX_ECANCEL : DTX_ETASK;
}

const char *dtx_future_error(const dtx_future *f) { return dtx_future_done(f) ? f->err : NULL; }

dtx_status dtx_future_result(dtx_future *f, const void **data, size_t *size) {
  if (f == NULL) return dtxi_fail(DTX_EINVAL, "dtx_future_result: future is NULL");
  dtx_status rc = dtx_future_wait(f, -1);
  if (rc != DTX_OK) return rc;
  rc = dtx_future_status(f);
  if (rc != DTX_OK) return dtxi_fail_msg(rc, f->err != NULL ? f->err : "failed");
  if (data != NULL) *data = f->out != NULL ? f->out->data : NULL;
  if (size != NULL) *size = f->out != NULL ? f->out->size : 0;
  return DTX_OK;
}

dtx_status dtx_future_cancel(dtx_future *f) {
  if (f == NULL) return dtxi_fail(DTX_EINVAL, "dtx_future_cancel: future is NULL");
  if (cancel_tree(f)) return DTX_OK;
  char key[DTX_MAX_KEY];
  dtxi_future_key(f, key, sizeof key);
  return dtxi_fail(DTX_EBUSY, "dtx_future_cancel: '%s' is already running or finished; it was not cancelled",
                   key);
}

void dtx_future_release(dtx_future *f) {
  if (f != NULL) future_unref(f);
}

dtx_status dtx_gather(dtx_future *const *fs, int n, const void **data, size_t *sizes, int64_t timeout_ms) {
  if (n < 0 || (n > 0 && fs == NULL)) return dtxi_fail(DTX_EINVAL, "dtx_gather: fs is NULL or n (%d) < 0", n);
  for (int i = 0; i < n; i++)
    if (fs[i] == NULL) return dtxi_fail(DTX_EINVAL, "dtx_gather: future %d is NULL", i);
  if (n == 0) return DTX_OK;
  dtx_status rc = wait_until(fs[0]->cl, fs, n, 0, timeout_ms, NULL);
  if (rc != DTX_OK) return rc;
  dtx_status first = DTX_OK;
  const char *why = NULL;
  for (int i = 0; i < n; i++) {
    dtx_status s = dtx_future_status(fs[i]);
    if (s != DTX_OK && first == DTX_OK) {
      first = s;
      why = fs[i]->err;
    }
    if (data != NULL) data[i] = s == DTX_OK && fs[i]->out != NULL ? fs[i]->out->data : NULL;
    if (sizes != NULL) sizes[i] = s == DTX_OK && fs[i]->out != NULL ? fs[i]->out->size : 0;
  }
  if (first != DTX_OK) return dtxi_fail_msg(first, why != NULL ? why : "failed");
  return DTX_OK;
}

dtx_status dtx_wait_any(dtx_future *const *fs, int n, int64_t timeout_ms, int *index) {
  if (n <= 0 || fs == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_wait_any: needs at least one future (n = %d)", n);
  for (int i = 0; i < n; i++)
    if (fs[i] == NULL) return dtxi_fail(DTX_EINVAL, "dtx_wait_any: future %d is NULL", i);
  return wait_until(fs[0]->cl, fs, n, 1, timeout_ms, index);
}

/* ---- as completed ------------------------------------------------------------------ */

dtx_status dtx_as_completed_create(dtx_future *const *fs, int n, dtx_as_completed **out) {
  if (out == NULL || n < 0 || (n > 0 && fs == NULL))
    return dtxi_fail(DTX_EINVAL, "dtx_as_completed_create: fs/out is NULL or n (%d) < 0", n);
  for (int i = 0; i < n; i++)
    if (fs[i] == NULL) return dtxi_fail(DTX_EINVAL, "dtx_as_completed_create: future %d is NULL", i);
  dtx_as_completed *it = calloc(1, sizeof *it);
  if (it == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_as_completed_create: out of memory");
  it->fs = malloc((size_t)(n ? n : 1) * sizeof *it->fs);
  it->queue = malloc((size_t)(n ? n : 1) * sizeof *it->queue);
  if (it->fs == NULL || it->queue == NULL) {
    free(it->fs);
    free(it->queue);
    free(it);
    return dtxi_fail(DTX_ENOMEM, "dtx_as_completed_create: out of memory");
  }
  pthread_mutex_init(&it->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&it->cv, &ca);
  pthread_condattr_destroy(&ca);
  it->n = n;
  for (int i = 0; i < n; i++) {
    dtx_future *f = fs[i];
    atomic_fetch_add(&f->refs, 1);
    it->fs[i] = f;
    pthread_mutex_lock(&f->mu);
    if (atomic_load(&f->finished) || push_ptr((void ***)&f->watch, &f->nwatch, &f->capwatch, it) != 0) {
      /* Finished already (or no memory to watch: then deliver it when waited on). */
      if (!atomic_load(&f->finished)) {
        pthread_mutex_unlock(&f->mu);
        dtx_future_wait(f, -1);
        pthread_mutex_lock(&f->mu);
      }
      iter_push(it, f);
    }
    pthread_mutex_unlock(&f->mu);
  }
  *out = it;
  return DTX_OK;
}

dtx_status dtx_as_completed_next(dtx_as_completed *it, int64_t timeout_ms, dtx_future **f) {
  if (it == NULL || f == NULL) return dtxi_fail(DTX_EINVAL, "dtx_as_completed_next: iterator or f is NULL");
  *f = NULL;
  struct timespec deadline;
  if (timeout_ms >= 0) deadline_after(&deadline, timeout_ms);
  dtx_cluster *cl = it->n > 0 ? it->fs[0]->cl : NULL;
  dtxi_worker *w = cl != NULL ? dtxi_pool_self(dtxi_sched_of(cl)->pool) : NULL;
  pthread_mutex_lock(&it->mu);
  for (;;) {
    if (it->qhead < it->qlen) {
      *f = it->queue[it->qhead++];
      it->returned++;
      pthread_mutex_unlock(&it->mu);
      return DTX_OK;
    }
    if (it->returned == it->n) {
      pthread_mutex_unlock(&it->mu);
      return dtxi_fail(DTX_EINVAL, "dtx_as_completed_next: all %d futures were returned already", it->n);
    }
    if (timeout_ms >= 0 && past(&deadline)) {
      pthread_mutex_unlock(&it->mu);
      return dtxi_fail(DTX_ETIMEDOUT, "dtx_as_completed_next: timed out after %lld ms",
                       (long long)timeout_ms);
    }
    if (w != NULL) {
      pthread_mutex_unlock(&it->mu);
      int ran = dtxi_pool_help(dtxi_sched_of(cl)->pool, w);
      pthread_mutex_lock(&it->mu);
      if (ran || it->qhead < it->qlen) continue;
      struct timespec t = soon(&deadline, timeout_ms >= 0);
      pthread_cond_timedwait(&it->cv, &it->mu, &t);
    } else if (timeout_ms >= 0) {
      pthread_cond_timedwait(&it->cv, &it->mu, &deadline);
    } else {
      pthread_cond_wait(&it->cv, &it->mu);
    }
  }
}

void dtx_as_completed_destroy(dtx_as_completed *it) {
  if (it == NULL) return;
  for (int i = 0; i < it->n; i++) {
    dtx_future *f = it->fs[i];
    pthread_mutex_lock(&f->mu);
    for (int k = 0; k < f->nwatch; k++) {
      if (f->watch[k] == it) {
        f->watch[k] = f->watch[--f->nwatch];
        break;
      }
    }
    pthread_mutex_unlock(&f->mu);
    future_unref(f);
  }
  pthread_mutex_destroy(&it->mu);
  pthread_cond_destroy(&it->cv);
  free(it->fs);
  free(it->queue);
  free(it);
}

/* ---- shutdown -------------------------------------------------------------------------- */

void dtxi_futures_shutdown(dtx_cluster *cl) {
  live_lock(cl);
  dtxi_sched_of(cl)->closing = 1;
  dtx_future **snap = NULL;
  int n = 0, cap = 0;
  for (dtx_future *f = dtxi_sched_of(cl)->live; f != NULL; f = f->live_next) {
    if (push_ptr((void ***)&snap, &n, &cap, f) != 0) break;
    atomic_fetch_add(&f->refs, 1);
  }
  live_unlock(cl);
  for (int i = 0; i < n; i++) {
    cancel_tree(snap[i]);
    future_unref(snap[i]);
  }
  free(snap);
  pthread_mutex_lock(&dtxi_sched_of(cl)->fmu);
  for (;;) {
    live_lock(cl);
    int empty = dtxi_sched_of(cl)->live == NULL;
    live_unlock(cl);
    if (empty) break;
    pthread_cond_wait(&dtxi_sched_of(cl)->fcv, &dtxi_sched_of(cl)->fmu);
  }
  pthread_mutex_unlock(&dtxi_sched_of(cl)->fmu);
}
