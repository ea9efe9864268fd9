/*
 * device/links.c - link bandwidths measured at start-up, and the GPU part of the
 * cluster report.
 *
 * What it is for: placement needs the cost of moving a chunk between two
 * memories (DESIGN.md §3), and the choice between NCCL and peer copies is made
 * from measured bandwidth, not guessed (§4). dtxi_links_measure times one
 * copy per link, host -> gpu i, gpu i -> host and gpu i -> gpu j for every
 * ordered pair, three times each, keeping the fastest: the time runs from
 * enqueueing the copy to the completion of an event recorded after it
 * (dtxi_event_sync), so it includes what a real transfer pays to start.
 *
 * It uses only the backend interface (streams, stream-ordered allocation,
 * copies, events, pinned host memory), so the same code measures CUDA and sim
 * devices. What it owns: during dtxi_links_measure, one stream and one event
 * per device, one device buffer per device and one host buffer, all freed
 * before it returns. A failure (a stream, event or buffer that cannot be had,
 * a copy that fails) costs only the links it touches: they stay 0 in the
 * table, are printed as "-", and the reason is logged at info level; the
 * measurement as a whole never fails for it.
 *
 * Threads: dtxi_links_measure runs on the calling thread (cluster start-up)
 * and blocks it until the copies are done; the filled table is plain data,
 * read by any thread. dtxi_report_gpus only reads.
 */
#include "device/links.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if defined(DTX_HAVE_CUDA)
#include <dlfcn.h>
#endif

#include "base/error.h"

enum { REPEATS = 3 };

/* What one measurement holds; everything here is freed by probe_close. */
typedef struct probe {
  dtxi_backend *b;
  size_t bytes;
  void *host;                         /* NULL when host_alloc failed: no host links */
  dtxi_stream *stream[DTXI_MAX_GPUS]; /* copies touching gpu i run on gpu i's (the source's) stream */
  dtxi_event *event[DTXI_MAX_GPUS];
  void *buf[DTXI_MAX_GPUS]; /* NULL when the device could not be set up */
} probe;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static const char *where(int dev, char *buf, size_t size) {
  if (dev == DTXI_HOST)
    snprintf(buf, size, "host");
  else
    snprintf(buf, size, "gpu%d", dev);
  return buf;
}

/* Creates gpu i's stream and event and allocates its buffer, waiting for the
 * allocation (stream-ordered) to be done. On failure logs why, releases what
 * it got and leaves buf[i] NULL. */
static void probe_open_device(probe *p, int i) {
  dtxi_backend *b = p->b;
  const char *why = NULL;
  char err[DTXI_LAST_ERROR_MAX];
  if (dtxi_stream_create(b, i, DTXI_STREAM_PEER, "links", &p->stream[i]) != DTX_OK) {
    p->stream[i] = NULL;
    why = "creating a stream";
  } else if (dtxi_event_create(b, i, &p->event[i]) != DTX_OK) {
    p->event[i] = NULL;
    why = "creating an event";
  } else if (dtxi_alloc_async(p->stream[i], p->bytes, &p->buf[i]) != DTX_OK) {
    p->buf[i] = NULL;
    why = "allocating";
  } else if (dtxi_event_record(p->event[i], p->stream[i]) != DTX_OK) {
    why = "recording an event";
  } else if (dtxi_event_sync(p->event[i]) != DTXI_EVENT_DONE) {
    snprintf(err, sizeof err, "%s", dtxi_event_error(p->event[i]));
    DTXI_LOG(DTX_LOG_INFO, "links: gpu%d: allocating %zu bytes failed: %s; its links are not measured", i,
             p->bytes, err);
    dtxi_stream_reset(p->stream[i]);
    dtxi_free_async(p->stream[i], p->buf[i]);
    p->buf[i] = NULL;
    return;
  }
  if (why == NULL) return;
  DTXI_LOG(DTX_LOG_INFO, "links: gpu%d: %s failed: %s; its links are not measured", i, why, dtx_last_error());
  if (p->buf[i] != NULL) dtxi_free_async(p->stream[i], p->buf[i]);
  p->buf[i] = NULL;
}

static void probe_close(probe *p) {
  for (int i = 0; i < p->b->ndev; i++) {
    if (p->buf[i] != NULL) dtxi_free_async(p->stream[i], p->buf[i]);
    dtxi_event_destroy(p->event[i]);
    dtxi_stream_destroy(p->stream[i]); /* waits for the frees */
  }
  if (p->host != NULL) p->b->ops->host_free(p->b, p->host);
}

/* Times a copy src (on src_dev) -> dst (on dst_dev) on gpu sdev's stream,
 * REPEATS times; returns the fastest in GB/s, or 0 after logging why the
 * copy failed (the stream is reset for the next link). */
static double time_link(probe *p, int sdev, void *dst, int dst_dev, const void *src, int src_dev) {
  dtxi_stream *s = p->stream[sdev];
  dtxi_event *e = p->event[sdev];
  int64_t best = INT64_MAX;
  char a[16], c[16];
  for (int rep = 0; rep < REPEATS; rep++) {
    int64_t t0 = now_ns();
    if (dtxi_copy_async(s, dst, dst_dev, src, src_dev, p->bytes) != DTX_OK ||
        dtxi_event_record(e, s) != DTX_OK) {
      DTXI_LOG(DTX_LOG_INFO, "links: %s -> %s: enqueueing a copy of %zu bytes failed: %s",
               where(src_dev, a, 16), where(dst_dev, c, 16), p->bytes, dtx_last_error());
      return 0.0;
    }
    if (dtxi_event_sync(e) != DTXI_EVENT_DONE) {
      DTXI_LOG(DTX_LOG_INFO, "links: %s -> %s: a copy of %zu bytes failed: %s", where(src_dev, a, 16),
               where(dst_dev, c, 16), p->bytes, dtxi_event_error(e));
      dtxi_stream_reset(s);
      return 0.0;
    }
    int64_t t = now_ns() - t0;
    if (t < best) best = t;
  }
  if (best < 1) best = 1;
  return (double)p->bytes / (double)best; /* bytes per ns = GB/s */
}

dtx_status dtxi_links_measure_size(dtxi_backend *b, size_t bytes, dtxi_links *out) {
  if (b == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_links_measure: backend or out is NULL");
  if (b->ndev < 0 || b->ndev > DTXI_MAX_GPUS)
    return dtxi_fail(DTX_EINVAL, "dtxi_links_measure: backend has %d devices (0..%d expected)", b->ndev,
                     DTXI_MAX_GPUS);
  if (bytes == 0) bytes = 1;
  for (int i = 0; i < b->ndev; i++) {
    size_t used = 0, cap = 0;
    b->ops->mem_usage(b, i, &used, &cap);
    if (cap >= 8 && bytes > cap / 8) bytes = cap / 8;
  }

  memset(out, 0, sizeof *out);
  out->ndev = b->ndev;
  out->copy_bytes = bytes;

  probe p;
  memset(&p, 0, sizeof p);
  p.b = b;
  p.bytes = bytes;
  if (b->ops->host_alloc(b, bytes, &p.host) != DTX_OK) {
    p.host = NULL;
    DTXI_LOG(DTX_LOG_INFO, "links: host buffer of %zu bytes: %s; host links are not measured", bytes,
             dtx_last_error());
  } else {
    memset(p.host, 0x5a, bytes); /* touch every page before timing */
  }
  for (int i = 0; i < b->ndev; i++) probe_open_device(&p, i);

  int64_t t0 = now_ns();
  /* host -> gpu first: it also fills the device buffers copied below. */
  for (int i = 0; i < b->ndev && p.host != NULL; i++)
    if (p.buf[i] != NULL)
      out->gbps[DTXI_LINK_INDEX(DTXI_HOST)][DTXI_LINK_INDEX(i)] =
          time_link(&p, i, p.buf[i], i, p.host, DTXI_HOST);
  for (int i = 0; i < b->ndev && p.host != NULL; i++)
    if (p.buf[i] != NULL)
      out->gbps[DTXI_LINK_INDEX(i)][DTXI_LINK_INDEX(DTXI_HOST)] =
          time_link(&p, i, p.host, DTXI_HOST, p.buf[i], i);
  for (int i = 0; i < b->ndev; i++)
    for (int j = 0; j < b->ndev; j++)
      if (i != j && p.buf[i] != NULL && p.buf[j] != NULL)
        out->gbps[DTXI_LINK_INDEX(i)][DTXI_LINK_INDEX(j)] = time_link(&p, i, p.buf[j], j, p.buf[i], i);
  DTXI_LOG(DTX_LOG_INFO, "links: %d device(s) measured with copies of %zu bytes in %.1f ms", b->ndev, bytes,
           (double)(now_ns() - t0) / 1e6);

  probe_close(&p);
  return DTX_OK;
}

dtx_status dtxi_links_measure(dtxi_backend *b, dtxi_links *out) {
  if (b == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_links_measure: backend or out is NULL");
  bool sim = strcmp(b->ops->name, "sim") == 0;
  return dtxi_links_measure_size(b, sim ? DTXI_LINKS_SIM_COPY_BYTES : DTXI_LINKS_COPY_BYTES, out);
}

double dtxi_links_cost_ns(const dtxi_links *l, int from, int to, size_t bytes) {
  if (l == NULL || from < DTXI_HOST || to < DTXI_HOST || from >= l->ndev || to >= l->ndev) return INFINITY;
  if (from == to) return 0.0;
  double gbps = l->gbps[DTXI_LINK_INDEX(from)][DTXI_LINK_INDEX(to)];
  if (!(gbps > 0.0)) return INFINITY;
  return (double)bytes / gbps; /* GB/s = bytes per ns */
}

/* ---- printing ----------------------------------------------------------------- */

static void link_cell(const dtxi_links *l, int r, int c, char *buf, size_t size) {
  double v = l->gbps[r][c];
  if (r == c)
    snprintf(buf, size, "X");
  else if (v > 0.0)
    snprintf(buf, size, "%.1f", v);
  else
    snprintf(buf, size, "-");
}

static void print_matrix(const dtxi_links *l, int ndev, const char *indent, FILE *out) {
  char cell[32], label[16];
  int n = ndev + 1;
  if (ndev < 0 || ndev > DTXI_MAX_GPUS) return;
  int w = (int)strlen("GB/s");
  for (int r = 0; r < n; r++) {
    int lw = snprintf(label, sizeof label, r == 0 ? "host" : "gpu%d", r - 1);
    if (lw > w) w = lw;
    for (int c = 0; c < n; c++) {
      link_cell(l, r, c, cell, sizeof cell);
      if ((int)strlen(cell) > w) w = (int)strlen(cell);
    }
  }
  fprintf(out, "%s%-*s", indent, w, "GB/s");
  for (int c = 0; c < n; c++) {
    snprintf(label, sizeof label, c == 0 ? "host" : "gpu%d", c - 1);
    fprintf(out, "  %*s", w, label);
  }
  fputc('\n', out);
  for (int r = 0; r < n; r++) {
    snprintf(label, sizeof label, r == 0 ? "host" : "gpu%d", r - 1);
    fprintf(out, "%s%-*s", indent, w, label);
    for (int c = 0; c < n; c++) {
      link_cell(l, r, c, cell, sizeof cell);
      fprintf(out, "  %*s", w, cell);
    }
    fputc('\n', out);
  }
}

void dtxi_links_print(const dtxi_links *l, int ndev, FILE *out) {
  if (l == NULL || out == NULL) return;
  print_matrix(l, ndev, "", out);
}

/* "1.0 GiB", "512.0 MiB", as cluster.c prints memory. */
static void human_bytes(size_t b, char *buf, size_t n) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  snprintf(buf, n, "%.1f %s", v, unit[u]);
}

#if defined(DTX_HAVE_CUDA)
/* The NCCL version of the libnccl.so.2 the dynamic loader finds, as "2.21.5",
 * or why there is none. Loads the library only for the question and unloads it. */
static void nccl_version(char *buf, size_t size) {
  void *lib = dlopen("libnccl.so.2", RTLD_LAZY | RTLD_LOCAL);
  if (lib == NULL) {
    const char *e = dlerror();
    snprintf(buf, size, "not found (%s)", e != NULL ? e : "libnccl.so.2 cannot be loaded");
    return;
  }
  int (*get)(int *) = NULL;
  void *sym = dlsym(lib, "ncclGetVersion");
  if (sym != NULL) memcpy(&get, &sym, sizeof get); /* ISO C has no object-to-function cast */
  int code = 0;
  if (get == NULL) {
    snprintf(buf, size, "not found (libnccl.so.2 has no ncclGetVersion)");
  } else if (get(&code) != 0 || code <= 0) {
    snprintf(buf, size, "not found (ncclGetVersion failed)");
  } else if (code >= 10000) { /* NCCL >= 2.9: major * 10000 + minor * 100 + patch */
    snprintf(buf, size, "%d.%d.%d", code / 10000, code % 10000 / 100, code % 100);
  } else { /* earlier: major * 1000 + minor * 100 + patch */
    snprintf(buf, size, "%d.%d.%d", code / 1000, code % 1000 / 100, code % 100);
  }
  dlclose(lib);
}
#endif

/*
 * Prints, in the layout of dtx_cluster_report:
 *   GPUs          2 (cuda backend)
 *     gpu 0       NVIDIA H100 80GB HBM3, 79.1 GiB, compute capability 9.0, limit 63.3 GiB (80%), 4 streams
 *   links         GB/s, rows from, columns to: best of 3 copies of 8.0 MiB
 *     GB/s   host  gpu0  ...
 *   NCCL          2.21.5
 */
void dtxi_report_gpus(FILE *out, const dtxi_backend *b, const dtxi_links *links, int streams_per_gpu,
                      const size_t *limits) {
  char mem[32], lim[64];
  if (out == NULL || b == NULL) return;
  fprintf(out, "  GPUs          %d (%s backend)\n", b->ndev, b->ops->name);
  for (int i = 0; i < b->ndev && i < DTXI_MAX_GPUS; i++) {
    const dtxi_gpu_info *g = &b->info[i];
    size_t total = g->total_memory;
    human_bytes(total, mem, sizeof mem);
    if (limits == NULL || limits[i] == 0) {
      snprintf(lim, sizeof lim, "no limit");
    } else {
      char l[32];
      human_bytes(limits[i], l, sizeof l);
      if (total > 0)
        snprintf(lim, sizeof lim, "limit %s (%.0f%%)", l, 100.0 * (double)limits[i] / (double)total);
      else
        snprintf(lim, sizeof lim, "limit %s", l);
    }
    fprintf(out, "    gpu %-2d      %s, %s", i, g->name, mem);
    if (g->cc_major > 0) fprintf(out, ", compute capability %d.%d", g->cc_major, g->cc_minor);
    fprintf(out, ", %s, %d stream%s\n", lim, streams_per_gpu, streams_per_gpu == 1 ? "" : "s");
  }
  if (links == NULL) {
    fprintf(out, "  links         not measured\n");
  } else {
    human_bytes(links->copy_bytes, mem, sizeof mem);
    fprintf(out, "  links         GB/s, rows from, columns to: best of %d copies of %s\n", REPEATS, mem);
    print_matrix(links, links->ndev < b->ndev ? links->ndev : b->ndev, "    ", out);
  }
#if defined(DTX_HAVE_CUDA)
  char nccl[256];
  nccl_version(nccl, sizeof nccl);
  fprintf(out, "  NCCL          %s\n", nccl);
#endif
}
