/*
 * scheduler/gpu/admit.c - admitting a run's root tasks to the GPUs.
 *
 * A graph with many roots (loading every chunk of an array, say) would put
 * every one of them on the GPUs at once, and with them every input buffer and
 * output. Instead, a run with more GPU roots than DTX_GPU_WINDOW (at least
 * the compute streams) per GPU starts that many and queues the rest; queued
 * roots start as started ones finish, but not while host memory is past its
 * limit (the pause threshold) with roots in flight: the outputs coming home
 * would only push it further.
 *
 * Owns: the run's queue (struct dtxi_rootq, run->rootq), made at plan time
 * (dtxi_gpu_plan) and freed by dtxi_gpu_run_free after the run.
 * Threads: any thread admitting or finishing a root, under the queue's mu;
 * dispatches happen with it released.
 * Invariants: inflight <= limit; len <= cap (the run's GPU roots); roots
 * wait in the ring only while others are in flight (with none in flight one
 * always starts), so the ring drains.
 */
#include <stdlib.h>

#include "scheduler/gpu/gpu_internal.h"

struct dtxi_rootq {
  pthread_mutex_t mu;
  rtask **q; /* a ring of roots waiting to start */
  uint32_t head, len, cap;
  int64_t inflight; /* roots started and not finished */
  int64_t limit;    /* roots in flight at most */
};

static int host_paused(const run *r) {
  const dtxi_mem *m = dtxi_sched_of(r->cl)->mem;
  return m->limit > 0 && dtxi_mem_used(m) > m->limit;
}

void dtxi_gpu_root(run *r, rtask *t) {
  struct dtxi_rootq *q = r->rootq;
  if (q == NULL) {
    dtxi_gpu_dispatch(r, t);
    return;
  }
  pthread_mutex_lock(&q->mu);
  int go = q->len == 0 && q->inflight < q->limit && (q->inflight == 0 || !host_paused(r));
  if (go) {
    q->inflight++;
  } else if (q->len < q->cap) {
    q->q[(q->head + q->len++) % q->cap] = t;
  } else {
    go = 1; /* cannot happen: the ring holds every root */
    q->inflight++;
  }
  pthread_mutex_unlock(&q->mu);
  if (go) dtxi_gpu_dispatch(r, t);
}

/* A root task t finished (or failed to start): start queued ones while
 * there is room. No-op for other tasks. */
void dtxi_gpu_root_done(run *r, rtask *t) {
  struct dtxi_rootq *q = r->rootq;
  if (q == NULL || r->g->tasks[t->gid].ninputs != 0) return;
  pthread_mutex_lock(&q->mu);
  q->inflight--;
  for (;;) {
    if (q->len == 0 || q->inflight >= q->limit || (q->inflight > 0 && host_paused(r))) break;
    rtask *next = q->q[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    q->inflight++;
    pthread_mutex_unlock(&q->mu);
    dtxi_gpu_dispatch(r, next);
    pthread_mutex_lock(&q->mu);
  }
  pthread_mutex_unlock(&q->mu);
}

void dtxi_gpu_run_free(run *r) {
  dtxi_regrow_forget_run(dtxi_sched_of(r->cl)->gpus, r);
  struct dtxi_rootq *q = r->rootq;
  if (q == NULL) return;
  pthread_mutex_destroy(&q->mu);
  free(q->q);
  free(q);
  r->rootq = NULL;
}

void dtxi_gpu_rootq_new(run *r) {
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  uint32_t roots = 0;
  for (uint32_t i = 0; i < r->nroots; i++)
    if (dtxi_gpu_eligible(r, &r->rt[r->roots[i]])) roots++;
  int window = g->set.window;
  int64_t limit = (int64_t)(window > g->dev[0].ncompute ? window : g->dev[0].ncompute) * g->ndev;
  if (roots <= limit) return; /* they all start at once anyway */
  struct dtxi_rootq *q = calloc(1, sizeof *q);
  if (q == NULL || (q->q = malloc((size_t)roots * sizeof *q->q)) == NULL) {
    free(q); /* without it, roots all start at once */
    return;
  }
  pthread_mutex_init(&q->mu, NULL);
  q->cap = roots;
  q->limit = limit;
  r->rootq = q;
}
