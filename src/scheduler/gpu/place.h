/*
 * scheduler/gpu/place.h - the GPU executor's choices, on plain inputs: which
 * GPU a task goes to, and whether a task with both a CPU and a CUDA
 * implementation runs on a CPU thread or a GPU.
 *
 * Nothing here reads the executor's state: the callers (place.c's
 * dtxi_gpu_choose and dtxi_gpu_plan) take a snapshot of it (where each input
 * lives, where each device's queue ends, what was learned) and pass it in, so
 * the model is unit-tested with made-up link tables and learned costs
 * (tests/gpu_place_test.cc). Pure functions; any thread.
 */
#ifndef DTXI_GPU_PLACE_H
#define DTXI_GPU_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "device/links.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One input of a task, as placement sees it. */
typedef struct dtxi_place_input {
  size_t bytes;      /* its size; 0: none or not known yet */
  uint32_t resident; /* bit d: GPU d holds a copy */
  int host;          /* a host copy exists, to be moved from there */
} dtxi_place_input;

/* One GPU, as placement sees it. */
typedef struct dtxi_place_dev {
  int64_t queued_ns; /* estimated work in flight there: where its queue ends */
  int64_t inflight;  /* jobs in flight there (breaks ties) */
} dtxi_place_dev;

/* What moving input `in` to GPU d costs (ns) over the link table: its
 * cheapest copy, from the host when it has a host copy, else from a GPU
 * holding it; 0 when d holds it, it is empty, or no link to d is known. */
double dtxi_place_move_cost(const dtxi_links *links, int ndev, const dtxi_place_input *in, int d);

/* Owner computes: the GPU holding the most input bytes, when that is at least
 * half of all of them; -1 otherwise. */
int dtxi_place_owner(int ndev, const dtxi_place_input *in, uint32_t nin);

/* Earliest estimated finish: the GPU where the queue's end plus moving the
 * inputs it lacks is least (a task takes as long on every GPU of a node);
 * ties go to the one with fewer jobs in flight, then the lowest index. */
int dtxi_place_earliest(const dtxi_links *links, int ndev, const dtxi_place_dev *dev,
                        const dtxi_place_input *in, uint32_t nin);

/* The GPU for a task: `where` (DTX_WHERE_GPU(k), checked against ndev at plan
 * time) wins; else owner computes; else the earliest finish. */
int dtxi_place_choose(const dtxi_links *links, int ndev, const dtxi_place_dev *dev, int where,
                      const dtxi_place_input *in, uint32_t nin);

/* ---- CPU thread or GPU, for a task with both implementations (at plan time) ---- */

/* Input bytes a task is priced with before its inputs exist: what its name's
 * outputs were (1 + the largest, as learned; 0: unknown) times its inputs. */
size_t dtxi_place_plan_bytes(int64_t learned_out, uint32_t ninputs);

/* Adds the cost of moving one input of `bytes` to where the task runs: one
 * made on a GPU goes to the host for a CPU thread (*to_host), one made on the
 * host goes to a GPU (*to_gpu); priced on GPU 0's links. */
void dtxi_place_price_input(const dtxi_links *links, size_t bytes, int made_on_gpu, double *to_host,
                            double *to_gpu);

enum {
  DTXI_PLACE_GPU,        /* on a GPU: it finishes first there, or its GPU side was never measured */
  DTXI_PLACE_CPU,        /* on a CPU thread: it finishes first there */
  DTXI_PLACE_EXPLORE_CPU /* its CPU side was never measured: run one there to learn */
};
/* Where it finishes first, by learned durations (ns; 0: never measured)
 * plus moving its inputs there. */
int dtxi_place_side(int64_t cpu_ns, int64_t gpu_ns, double to_host_ns, double to_gpu_ns);

#ifdef __cplusplus
}
#endif

#endif /* DTXI_GPU_PLACE_H */
