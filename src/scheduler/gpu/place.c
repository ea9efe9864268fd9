/*
 * scheduler/gpu/place.c - the GPU executor's choices: which GPU a task goes
 * to (dispatch time), and CPU thread or GPU for tasks with both
 * implementations (plan time).
 *
 * Owns nothing. The model itself (dtxi_place_*, place.h) is pure functions of
 * plain inputs; dtxi_gpu_choose and dtxi_gpu_plan take the snapshot it needs
 * from a run and the executor: input sizes and residency masks (read without
 * the lock: a hint), each device's queue end and jobs in flight (atomics),
 * the learned costs (base/costcache.h) and the link table measured at start.
 * Threads: dtxi_gpu_choose on any dispatching thread; dtxi_gpu_plan on the
 * thread computing the graph, before any of its tasks starts.
 */
#include "scheduler/gpu/place.h"

#include <stdatomic.h>

#include "base/costcache.h"
#include "scheduler/gpu/gpu_internal.h"

/* ---- the model ----------------------------------------------------------------------- */

double dtxi_place_move_cost(const dtxi_links *links, int ndev, const dtxi_place_input *in, int d) {
  size_t n = in->bytes;
  if (n == 0 || (in->resident & (1u << d))) return 0;
  double c = in->host ? dtxi_links_cost_ns(links, DTXI_HOST, d, n) : 1e30;
  for (int e = 0; e < ndev; e++)
    if (in->resident & (1u << e)) {
      double pc = dtxi_links_cost_ns(links, e, d, n);
      if (pc < c) c = pc;
    }
  return c < 1e30 ? c : 0;
}

int dtxi_place_owner(int ndev, const dtxi_place_input *in, uint32_t nin) {
  size_t bytes[DTXI_MAX_GPUS] = {0}, most = 0, total = 0;
  int best = -1;
  for (uint32_t i = 0; i < nin; i++) {
    total += in[i].bytes;
    if (in[i].bytes == 0) continue;
    for (int d = 0; d < ndev; d++)
      if (in[i].resident & (1u << d)) bytes[d] += in[i].bytes;
  }
  for (int d = 0; d < ndev; d++)
    if (bytes[d] > most) {
      most = bytes[d];
      best = d;
    }
  return best >= 0 && most * 2 >= total ? best : -1; /* most of it is there */
}

int dtxi_place_earliest(const dtxi_links *links, int ndev, const dtxi_place_dev *dev,
                        const dtxi_place_input *in, uint32_t nin) {
  double best_cost = 0;
  int best = -1;
  for (int d = 0; d < ndev; d++) {
    double cost = (double)dev[d].queued_ns;
    for (uint32_t i = 0; i < nin; i++) cost += dtxi_place_move_cost(links, ndev, &in[i], d);
    if (best < 0 || cost < best_cost || (cost == best_cost && dev[d].inflight < dev[best].inflight)) {
      best = d;
      best_cost = cost;
    }
  }
  return best;
}

int dtxi_place_choose(const dtxi_links *links, int ndev, const dtxi_place_dev *dev, int where,
                      const dtxi_place_input *in, uint32_t nin) {
  if (where > 0) return where - 1;
  int d = dtxi_place_owner(ndev, in, nin);
  return d >= 0 ? d : dtxi_place_earliest(links, ndev, dev, in, nin);
}

size_t dtxi_place_plan_bytes(int64_t learned_out, uint32_t ninputs) {
  return learned_out > 0 ? (size_t)(learned_out - 1) * (ninputs > 0 ? ninputs : 1) : 0;
}

void dtxi_place_price_input(const dtxi_links *links, size_t bytes, int made_on_gpu, double *to_host,
                            double *to_gpu) {
  if (bytes == 0) return;
  if (made_on_gpu)
    *to_host += dtxi_links_cost_ns(links, 0, DTXI_HOST, bytes);
  else
    *to_gpu += dtxi_links_cost_ns(links, DTXI_HOST, 0, bytes);
}

int dtxi_place_side(int64_t cpu_ns, int64_t gpu_ns, double to_host_ns, double to_gpu_ns) {
  if (cpu_ns == 0) return DTXI_PLACE_EXPLORE_CPU;
  return gpu_ns != 0 && (double)cpu_ns + to_host_ns < (double)gpu_ns + to_gpu_ns ? DTXI_PLACE_CPU
                                                                                 : DTXI_PLACE_GPU;
}

/* ---- the executor's view ------------------------------------------------------------------ */

size_t dtxi_gpu_input_size(const rtask *in) {
  return in->out != NULL ? in->out->size : in->res != NULL ? in->res->size : 0;
}

gdev *dtxi_gpu_choose(dtxi_gpus *g, const run *r, const gtask *gt, dtxi_place_input *buf) {
  if (gt->where > 0) return &g->dev[gt->where - 1]; /* checked against ndev at plan */
  const uint32_t *ins = dtxi_gt_inputs(gt);
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    const rtask *in = &r->rt[r->map[ins[i]]];
    buf[i].bytes = dtxi_gpu_input_size(in);
    buf[i].resident = in->res != NULL ? atomic_load_explicit(&in->res->resident, memory_order_relaxed) : 0;
    buf[i].host = in->out != NULL;
  }
  dtxi_place_dev dev[DTXI_MAX_GPUS];
  for (int d = 0; d < g->ndev; d++) {
    dev[d].queued_ns = atomic_load(&g->dev[d].queued_ns);
    dev[d].inflight = atomic_load(&g->dev[d].inflight);
  }
  return &g->dev[dtxi_place_choose(&dtxi_sched_of(r->cl)->links, g->ndev, dev, gt->where, buf, gt->ninputs)];
}

int dtxi_gpu_eligible(const run *r, const rtask *t) {
  const gtask *gt = &r->g->tasks[t->gid];
  return r->gpu && !t->on_cpu && gt->where != DTX_WHERE_CPU && r->g->impls[gt->impl].cuda != NULL;
}

void dtxi_gpu_plan(run *r) {
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  const dtxi_links *links = &dtxi_sched_of(r->cl)->links;
  const dtx_graph *gr = r->g;
  uint8_t explored_cpu[64] = {0}; /* per prefix id (first 64): one CPU sample per run */
  for (uint32_t i = 0; i < r->m; i++) {
    rtask *t = &r->rt[i];
    const gtask *gt = &gr->tasks[t->gid];
    const gimpl *im = &gr->impls[gt->impl];
    if (gt->where != DTX_WHERE_ANY || im->cpu == NULL || im->cuda == NULL) continue;
    const char *prefix = gr->prefixes[gt->prefix];
    /* Input sizes are not known yet: the size of its output (its hint, else
     * what this name's outputs had) stands in. */
    size_t hint = dtxi_gt_output_size(gr, t->gid);
    int64_t out = hint > 0 ? (int64_t)hint + 1 : dtxi_costcache_output(g->cost, prefix);
    size_t bytes = dtxi_place_plan_bytes(out, gt->ninputs);
    int64_t cpu = dtxi_gpus_estimate(g, prefix, 0, bytes), gpu = dtxi_gpus_estimate(g, prefix, 1, bytes);
    /* Its inputs move to where it runs: those GPU tasks make go to the host
     * for a CPU thread, the others to a GPU. */
    double to_host = 0, to_gpu = 0;
    const uint32_t *ins = dtxi_gt_inputs(gt);
    for (uint32_t k = 0; k < gt->ninputs && cpu != 0; k++) {
      const rtask *in = &r->rt[r->map[ins[k]]];
      /* what it gives its readers: its hint (a stored chunk lent in place
       * says its size there too), else what its name was seen to make */
      size_t n = dtxi_gt_output_size(gr, in->gid);
      if (n == 0) n = dtxi_costcache_data_bytes(g->cost, gr->prefixes[gr->tasks[in->gid].prefix]);
      dtxi_place_price_input(links, n, dtxi_gpu_eligible(r, in), &to_host, &to_gpu);
    }
    switch (dtxi_place_side(cpu, gpu, to_host, to_gpu)) {
      case DTXI_PLACE_EXPLORE_CPU: /* run one of this prefix there to learn */
        if (gt->prefix < 64 && !explored_cpu[gt->prefix]) {
          explored_cpu[gt->prefix] = 1;
          t->on_cpu = 1;
        }
        break;
      case DTXI_PLACE_CPU:
        t->on_cpu = 1;
        break;
      default:
        t->on_cpu = 0;
        break;
    }
  }
  dtxi_gpu_rootq_new(r);
}
