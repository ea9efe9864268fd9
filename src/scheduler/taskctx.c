/*
 * scheduler/taskctx.c - what a running task sees: the dtx_task_* calls on its
 * dtx_task_ctx (inputs, arguments, output, failure, key, worker, device).
 *
 * A context serves one of three kinds of task: a graph task on a host thread
 * (run, rt, gt set), a future (fut set) or a graph task on a GPU (gpu set:
 * inputs and output are device memory, served by the GPU executor, gpu/). Owner: the thread
 * running the task, which made the context on its stack; nothing here is
 * shared between threads.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/gpu.h"
#include "scheduler/run.h"
#include "scheduler/task.h"

int dtx_task_num_inputs(const dtx_task_ctx *ctx) {
  if (ctx == NULL) return 0;
  if (ctx->fut != NULL) return dtxi_future_ninputs(ctx->fut);
  return (int)ctx->gt->ninputs;
}

const void *dtx_task_input(const dtx_task_ctx *ctx, int i, size_t *size) {
  const dtx_chunk *c = NULL;
  if (ctx != NULL && ctx->gpu != NULL) return dtxi_gpu_input(ctx->gpu, i, size);
  if (ctx != NULL && i >= 0) {
    if (ctx->fut != NULL) {
      c = dtxi_future_input(ctx->fut, i);
    } else if ((uint32_t)i < ctx->gt->ninputs) {
      c = ctx->run->rt[ctx->run->map[dtxi_gt_inputs(ctx->gt)[i]]].out;
    }
  }
  if (size != NULL) *size = c != NULL ? c->size : 0;
  return c != NULL ? c->data : NULL;
}

const void *dtx_task_args(const dtx_task_ctx *ctx, size_t *size) {
  if (ctx == NULL) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  if (ctx->fut != NULL) return dtxi_future_args(ctx->fut, size);
  if (size != NULL) *size = ctx->gt->args_size;
  return dtxi_gt_args(ctx->gt);
}

static void drop_output(dtx_task_ctx *ctx) {
  if (ctx->out == NULL) return;
  atomic_store_explicit(&ctx->out->refs, 1, memory_order_relaxed);
  dtxi_chunk_unref(ctx->out);
  ctx->out = NULL;
}

void *dtx_task_output(dtx_task_ctx *ctx, size_t size) {
  if (ctx == NULL) return NULL;
  if (ctx->gpu != NULL) return dtxi_gpu_output(ctx->gpu, size);
  drop_output(ctx);
  /* Graph outputs may spill to disk past the host limit (pinned until made). */
  ctx->out = ctx->fut == NULL ? dtxi_chunk_new_spillable(dtxi_sched_of(ctx->cl)->mem, size, ctx->out_refs)
                              : dtxi_chunk_new(dtxi_sched_of(ctx->cl)->mem, size, ctx->out_refs);
  return ctx->out != NULL ? ctx->out->data : NULL;
}

dtx_chunk *dtxi_task_input_chunk(const dtx_task_ctx *ctx, int i) {
  if (ctx->fut != NULL || ctx->gpu != NULL || i < 0 || (uint32_t)i >= ctx->gt->ninputs) return NULL;
  return ctx->run->rt[ctx->run->map[dtxi_gt_inputs(ctx->gt)[i]]].out;
}

dtx_status dtxi_task_lend(dtx_task_ctx *ctx, dtx_chunk *c) {
  drop_output(ctx);
  dtx_status rc = dtxi_chunk_pin(c); /* the maker's pin: dropped when the task is over */
  if (rc != DTX_OK) return rc;
  dtxi_chunk_ref(c, ctx->out_refs);
  ctx->out = c;
  return DTX_OK;
}

void *dtx_task_scratch(dtx_task_ctx *ctx, size_t size) {
  if (ctx == NULL || ctx->nscratch == DTX_TASK_SCRATCH) return NULL;
  dtx_chunk *c = dtxi_chunk_new(dtxi_sched_of(ctx->cl)->mem, size, 1);
  if (c == NULL) return NULL;
  ctx->scratch[ctx->nscratch++] = c;
  return c->data;
}

static void drop_scratch(dtx_task_ctx *ctx) {
  for (int i = 0; i < ctx->nscratch; i++) dtxi_chunk_unref(ctx->scratch[i]);
  ctx->nscratch = 0;
}

int dtx_task_fail(dtx_task_ctx *ctx, const char *fmt, ...) {
  if (ctx == NULL) return -1;
  free(ctx->error);
  ctx->error = NULL;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt != NULL ? fmt : "(no message)", ap);
  va_end(ap);
  ctx->error = strdup(buf);
  return -1;
}

void dtx_task_key(const dtx_task_ctx *ctx, char *buf, size_t n) {
  if (ctx == NULL || buf == NULL || n == 0) return;
  if (ctx->fut != NULL) {
    dtxi_future_key(ctx->fut, buf, n);
    return;
  }
  dtxi_key_format(ctx->run->g->prefixes[ctx->gt->prefix], ctx->gt->nidx, ctx->gt->idx, buf, n);
}

int dtx_task_worker(const dtx_task_ctx *ctx) { return ctx != NULL ? ctx->worker : -1; }
int dtx_task_device(const dtx_task_ctx *ctx) {
  return ctx != NULL && ctx->gpu != NULL ? dtxi_gpu_device(ctx->gpu) : -1;
}
void *dtx_task_stream(const dtx_task_ctx *ctx) {
  return ctx != NULL && ctx->gpu != NULL ? dtxi_gpu_native_stream(ctx->gpu) : NULL;
}
dtx_cluster *dtx_task_cluster(const dtx_task_ctx *ctx) { return ctx != NULL ? ctx->cl : NULL; }
int dtx_task_attempt(const dtx_task_ctx *ctx) { return ctx != NULL ? ctx->attempt : 0; }

int dtxi_task_invoke(dtx_task_ctx *ctx, dtx_task_fn fn, const char *prefix, int nidx, const int64_t *idx,
                     char **msg) {
  *msg = NULL;
  int rc = fn(ctx);
  drop_scratch(ctx);
  if (rc == 0) {
    free(ctx->error);
    ctx->error = NULL;
    return 0;
  }
  char key[DTX_MAX_KEY];
  dtxi_key_format(prefix, nidx, idx, key, sizeof key);
  char tail[80];
  snprintf(tail, sizeof tail, "task returned %d without a message (use dtx_task_fail)", rc);
  const char *text = ctx->error != NULL ? ctx->error : tail;
  size_t len = strlen(key) + strlen(text) + 3;
  char *s = malloc(len);
  if (s != NULL) snprintf(s, len, "%s: %s", key, text);
  *msg = s;
  free(ctx->error);
  ctx->error = NULL;
  drop_output(ctx);
  return 1;
}

int dtxi_current_worker(dtx_cluster *cl) {
  dtxi_worker *w = dtxi_sched_of(cl)->pool != NULL ? dtxi_pool_self(dtxi_sched_of(cl)->pool) : NULL;
  return w != NULL ? w->index : -1;
}
