/*
 * scheduler/gpu/gtrace.c - the GPU executor's part of the trace: a slice per
 * input move, per task and per copy home on each device's tracks, arrows from
 * producers to readers, the device memory counter, and instants for
 * broadcasts and unspills.
 *
 * Owns: nothing but the timed events it asks a job to record (dtxi_gtrace_mark;
 * freed with the job) and, per device, where the last slice on each track
 * ended (gdev.compute_end, d2h_end, in_end), so slices on a track never overlap.
 * Threads: dtxi_gtrace_job on the progress thread only (it owns the track
 * ends); marks on the dispatching thread (the device's feed lock held);
 * instants on whichever thread moved the data.
 * Times come from timed events on the streams (GPU timestamps on CUDA; on sim
 * the task's own run is exact), else from the host clock.
 */
#include <stdio.h>

#include "scheduler/gpu/gpu_internal.h"

static uint64_t event_time(dtxi_event *e, uint64_t otherwise) {
  uint64_t ns = 0;
  return e != NULL && dtxi_event_host_time(e, &ns) == DTX_OK && ns != 0 ? ns : otherwise;
}

/* A slice on a track that never overlaps the previous one there. */
static void clip(uint64_t *end, uint64_t *t0, uint64_t *t1) {
  if (*t0 < *end) *t0 = *end;
  if (*t1 < *t0) *t1 = *t0;
  *end = *t1;
}

static void trace_input_key(void *ctx, uint32_t i, char *buf, size_t n) {
  const rtask *t = ctx;
  const run *r = t->run;
  dtxi_gpu_key(r, &r->rt[r->map[dtxi_gt_inputs(&r->g->tasks[t->gid])[i]]], buf, n);
}

void dtxi_gtrace_mark(gjob *j, int k) {
  if (j->tev == NULL) return;
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  if (dtxi_event_create_timed(g->b, j->dev->index, &j->tev[k]) == DTX_OK &&
      dtxi_event_record(j->tev[k], j->s) != DTX_OK) {
    dtxi_event_destroy(j->tev[k]);
    j->tev[k] = NULL;
  }
}

/* The input moves' slices (on the device's h2d, peer or nccl track), each on
 * an arrow from its producer; their arrow ids go to flows[]. Returns when
 * the last move ended; *nflows: how many arrows. */
static uint64_t trace_moves(gjob *j, uint64_t *flows, int *nflows) {
  run *r = j->r;
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  dtxi_trace *tr = dtxi_sched_of(r->cl)->trace;
  gdev *d = j->dev;
  const uint32_t *ins = dtxi_gt_inputs(&r->g->tasks[j->t->gid]);
  int pid = DTXI_TRACE_GPU_PID(d->index);
  uint64_t last = event_time(j->tev != NULL ? j->tev[0] : NULL, j->t_dispatch);
  uint64_t moved_end = last;
  for (int i = 0; i < j->ninputs && j->tev != NULL; i++) {
    int how = j->how[i];
    if (how != IN_HOST && how != IN_PEER && how != IN_NCCL) continue;
    const rtask *in = &r->rt[r->map[ins[i]]];
    uint64_t m0 = last, m1 = event_time(j->tev[i + 1], m0);
    if (how == IN_NCCL) m0 = event_time(j->tev[0], m0);
    last = m1 > last ? m1 : last;
    if (m1 > moved_end) moved_end = m1;
    int k = how == IN_HOST ? 0 : how == IN_PEER ? 1 : 2;
    int tid = k == 0 ? d->h2d_tid : k == 1 ? d->peer_tid : d->nccl_tid;
    clip(&d->in_end[k], &m0, &m1);
    char ikey[DTX_MAX_KEY], link[40];
    dtxi_gpu_key(r, in, ikey, sizeof ikey);
    int from = j->pinned[i] != NULL ? j->pinned[i]->dev : -1;
    if (how == IN_HOST)
      snprintf(link, sizeof link, "host->gpu%d", d->index);
    else
      snprintf(link, sizeof link, "gpu%d->gpu%d", from, d->index);
    uint64_t id = 0;
    if (in->t0 != 0 && *nflows < 64) {
      /* The arrow starts on the producer's slice. */
      id = atomic_fetch_add_explicit(&g->flow_ids, 1, memory_order_relaxed) + 1;
      int ppid = in->pid != 0 ? in->pid : DTXI_TRACE_HOST_PID;
      dtxi_trace_flow(tr, ppid, in->tid, in->t0, id, 's');
      flows[(*nflows)++] = id;
    }
    dtxi_trace_transfer(tr, pid, tid, ikey, link,
                        k == 0   ? "h2d"
                        : k == 1 ? "peer"
                                 : "nccl",
                        j->in_size[i], m0, m1, id);
  }
  return moved_end;
}

void dtxi_gtrace_job(gjob *j) {
  run *r = j->r;
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  dtxi_trace *tr = dtxi_sched_of(r->cl)->trace;
  gdev *d = j->dev;
  const gtask *gt = &r->g->tasks[j->t->gid];
  char key[DTX_MAX_KEY], args[64];
  dtxi_key_format(r->g->prefixes[gt->prefix], gt->nidx, gt->idx, key, sizeof key);
  int pid = DTXI_TRACE_GPU_PID(d->index);
  uint64_t t0 = j->t_run0, t1 = j->t_run1;
  uint64_t flows[64];
  int nflows = 0;
  uint64_t moved_end = trace_moves(j, flows, &nflows);
  if (t0 == 0) { /* CUDA: from the inputs' arrival to the output's ready event */
    t0 = moved_end;
    t1 = event_time(j->ev != NULL ? j->ev : NULL, j->t_done1);
  }
  uint64_t *end = &d->compute_end[j->stream_index];
  clip(end, &t0, &t1);
  snprintf(args, sizeof args, "{\"device\":%d}", d->index);
  /* with its input keys, for the critical path of `dtx trace summary` */
  dtxi_trace_task(tr, pid, d->compute_tid[j->stream_index], key, "task", r->g->prefixes[gt->prefix], t0, t1,
                  gt->ninputs, trace_input_key, j->t, NULL, args);
  for (int k = 0; k < nflows; k++)
    dtxi_trace_flow(tr, pid, d->compute_tid[j->stream_index], t0, flows[k], 'f');
  /* Where its readers' arrows start. */
  j->t->t0 = t0;
  j->t->t1 = t1;
  j->t->tid = d->compute_tid[j->stream_index];
  j->t->pid = pid;
  if (j->host_out != NULL && j->host_out->size > 0 && j->t_done1 != 0) {
    uint64_t c0 = j->t_done1, c1 = dtxi_now_ns();
    clip(&d->d2h_end, &c0, &c1);
    char link[32];
    snprintf(link, sizeof link, "gpu%d->host", d->index);
    dtxi_trace_transfer(tr, pid, d->d2h_tid, key, link, "d2h", j->host_out->size, c0, c1, 0);
  }
  pthread_mutex_lock(&g->res_mu);
  int64_t used = d->used;
  pthread_mutex_unlock(&g->res_mu);
  dtxi_trace_counter(tr, pid, "device memory", dtxi_now_ns(), "used", (double)used);
}

void dtxi_gtrace_broadcast(const run *r, const rtask *t, const gdev *home, size_t bytes, int receivers) {
  if (!r->trace || dtxi_sched_of(r->cl)->trace == NULL) return;
  char key[DTX_MAX_KEY], name[DTX_MAX_KEY + 16], args[96];
  dtxi_gpu_key(r, t, key, sizeof key);
  snprintf(name, sizeof name, "broadcast %s", key);
  snprintf(args, sizeof args, "{\"bytes\":%zu,\"receivers\":%d}", bytes, receivers);
  dtxi_trace_instant(dtxi_sched_of(r->cl)->trace, DTXI_TRACE_GPU_PID(home->index), home->nccl_tid, name,
                     "transfer", dtxi_now_ns(), args);
}

void dtxi_gtrace_unspill(const run *r, const rtask *in, const gdev *d, size_t bytes) {
  if (!r->trace || dtxi_sched_of(r->cl)->trace == NULL) return;
  char key[DTX_MAX_KEY], name[DTX_MAX_KEY + 16], args[48];
  dtxi_gpu_key(r, in, key, sizeof key);
  snprintf(name, sizeof name, "unspill %s", key);
  snprintf(args, sizeof args, "{\"bytes\":%zu,\"device\":%d}", bytes, d->index);
  dtxi_trace_instant(dtxi_sched_of(r->cl)->trace, DTXI_TRACE_GPU_PID(d->index), d->h2d_tid, name, "unspill",
                     dtxi_now_ns(), args);
}
