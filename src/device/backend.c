/*
 * device/backend.c - choosing a device backend from DTX_GPUS-style text.
 *
 * dtxi_backend_open turns "all" (the default), "none", a list of GPU indices
 * such as "0,2", or "sim:N" into a backend: cuda on the listed (or every)
 * device the GPU probe found, sim with N simulated devices, or none at all.
 * For "all", no GPU or no driver is not an error: the cluster runs on CPU only
 * and `why` says why. Every malformed value is DTX_EINVAL with a message that
 * names the value and the accepted forms.
 *
 * It also holds the front doors of the GPU-to-GPU transfers (dtxi_p2p_group,
 * dtxi_broadcast, dtxi_nccl_available): the argument checks both backends
 * share, so a bad call is the same DTX_EINVAL on sim and on cuda and the
 * backends only ever see well-formed groups.
 *
 * Owns nothing and keeps no state; any thread may call. Builds without CUDA
 * get a stub dtxi_cuda_open here that says so.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "device/backend.h"

#define ACCEPTED "use all, none, a list of GPU indices such as 0,2, or sim:N with N in 1..16"
_Static_assert(DTXI_MAX_GPUS == 16, "ACCEPTED names the range 1..16");

#if !defined(DTX_HAVE_CUDA)
dtx_status dtxi_cuda_open(const int *devs, int n, dtxi_backend **out) {
  (void)devs;
  (void)n;
  (void)out;
  return dtxi_fail(DTX_EDEVICE, "cuda backend: built without CUDA support");
}
#endif

static void set_why(char *why, size_t whylen, const char *msg) {
  if (why != NULL && whylen > 0) snprintf(why, whylen, "%s", msg);
}

/* Parses a non-empty run of decimal digits [s, end) into *v (<= limit). */
static bool parse_index(const char *s, const char *end, long limit, long *v) {
  long x = 0;
  if (s == end) return false;
  for (const char *p = s; p < end; p++) {
    if (!isdigit((unsigned char)*p)) return false;
    x = x * 10 + (*p - '0');
    if (x > limit) return false;
  }
  *v = x;
  return true;
}

static dtx_status open_sim(const char *spec, const char *num, const dtxi_sim_config *sim_defaults,
                           dtxi_backend **out) {
  long n = 0;
  if (!parse_index(num, num + strlen(num), 1000000, &n))
    return dtxi_fail(DTX_EINVAL, "DTX_GPUS=%s: expected sim:N with N a number of simulated GPUs in 1..%d",
                     spec, DTXI_MAX_GPUS);
  if (n < 1 || n > DTXI_MAX_GPUS)
    return dtxi_fail(DTX_EINVAL, "DTX_GPUS=%s: the number of simulated GPUs must be in 1..%d", spec,
                     DTXI_MAX_GPUS);
  dtxi_sim_config cfg;
  memset(&cfg, 0, sizeof cfg);
  if (sim_defaults != NULL) cfg = *sim_defaults;
  cfg.ndev = (int)n;
  return dtxi_sim_open(&cfg, out);
}

static dtx_status open_all(dtxi_backend **out, char *why, size_t whylen) {
  dtxi_gpu_probe probe;
  dtxi_gpu_probe_run(&probe);
  if (probe.count == 0) {
    set_why(why, whylen, probe.why_none);
    return DTX_OK;
  }
  int devs[DTXI_MAX_GPUS];
  for (int i = 0; i < probe.count; i++) devs[i] = i;
  dtxi_backend *b = NULL;
  dtx_status rc = dtxi_cuda_open(devs, probe.count, &b);
  if (rc != DTX_OK) {
    /* "all" never fails for want of a usable GPU: run on CPU and say why. */
    char msg[512];
    snprintf(msg, sizeof msg, "%d GPU(s) found but the cuda backend failed to open: %s", probe.count,
             dtx_last_error());
    DTXI_LOG(DTX_LOG_WARN, "DTX_GPUS=all: %s; running on CPU only", msg);
    set_why(why, whylen, msg);
    return DTX_OK;
  }
  *out = b;
  return DTX_OK;
}

/* "0,2": every entry a GPU index the probe found, no repeats. */
static dtx_status open_list(const char *spec, dtxi_backend **out) {
  int devs[DTXI_MAX_GPUS];
  int n = 0;
  const char *p = spec;
  for (;;) {
    const char *end = strchr(p, ',');
    if (end == NULL) end = p + strlen(p);
    long v = 0;
    if (p == end)
      return dtxi_fail(DTX_EINVAL, "DTX_GPUS=%s: empty entry in the list of GPU indices; %s", spec, ACCEPTED);
    if (!parse_index(p, end, 1000000, &v))
      return dtxi_fail(DTX_EINVAL, "DTX_GPUS=%s: '%.*s' is not a GPU index; %s", spec, (int)(end - p), p,
                       ACCEPTED);
    for (int i = 0; i < n; i++)
      if (devs[i] == v) return dtxi_fail(DTX_EINVAL, "DTX_GPUS=%s: GPU %ld is listed twice", spec, v);
    if (n == DTXI_MAX_GPUS || v >= DTXI_MAX_GPUS)
      return dtxi_fail(DTX_EINVAL, "DTX_GPUS=%s: at most %d GPUs, indices 0..%d", spec, DTXI_MAX_GPUS,
                       DTXI_MAX_GPUS - 1);
    devs[n++] = (int)v;
    if (*end == '\0') break;
    p = end + 1;
  }
#if !defined(DTX_HAVE_CUDA)
  (void)out;
  return dtxi_fail(DTX_EINVAL,
                   "DTX_GPUS=%s asks for CUDA devices but this build has no CUDA support; use none or sim:N",
                   spec);
#else
  dtxi_gpu_probe probe;
  dtxi_gpu_probe_run(&probe);
  for (int i = 0; i < n; i++) {
    if (devs[i] < probe.count) continue;
    if (probe.count == 0)
      return dtxi_fail(DTX_EINVAL, "DTX_GPUS=%s: GPU %d does not exist: this machine has 0 GPUs (%s)", spec,
                       devs[i], probe.why_none);
    return dtxi_fail(DTX_EINVAL,
                     "DTX_GPUS=%s: GPU %d does not exist: this machine has %d GPU(s), indices 0..%d", spec,
                     devs[i], probe.count, probe.count - 1);
  }
  return dtxi_cuda_open(devs, n, out);
#endif
}

/* Parses spec ("all" when NULL or empty; surrounding blanks and case ignored)
 * and opens the backend it names. *out is written on DTX_OK only: NULL for
 * "none" and for "all" without a usable GPU, with the reason in why. */
dtx_status dtxi_backend_open(const char *spec, const dtxi_sim_config *sim_defaults, dtxi_backend **out,
                             char *why, size_t whylen) {
  char text[128], shown[128]; /* lower-cased for matching; as given for messages */
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_backend_open: out is NULL");
  set_why(why, whylen, "");
  if (spec == NULL) spec = "";
  while (isspace((unsigned char)*spec)) spec++;
  size_t len = strlen(spec);
  while (len > 0 && isspace((unsigned char)spec[len - 1])) len--;
  if (len >= sizeof text)
    return dtxi_fail(DTX_EINVAL, "DTX_GPUS=%.40s...: value too long (%zu characters); %s", spec, len,
                     ACCEPTED);
  for (size_t i = 0; i < len; i++) text[i] = (char)tolower((unsigned char)spec[i]);
  text[len] = '\0';
  memcpy(shown, spec, len);
  shown[len] = '\0';

  dtxi_backend *b = NULL;
  dtx_status rc;
  if (len == 0 || strcmp(text, "all") == 0) {
    rc = open_all(&b, why, whylen);
  } else if (strcmp(text, "none") == 0) {
    set_why(why, whylen, "DTX_GPUS=none");
    rc = DTX_OK;
  } else if (strncmp(text, "sim:", 4) == 0) {
    rc = open_sim(shown, text + 4, sim_defaults, &b);
  } else if (isdigit((unsigned char)text[0]) || text[0] == ',') {
    rc = open_list(shown, &b);
  } else {
    rc = dtxi_fail(DTX_EINVAL, "DTX_GPUS=%s is not understood; %s", shown, ACCEPTED);
  }
  if (rc == DTX_OK) *out = b;
  return rc;
}

/* ---- GPU-to-GPU transfers: argument checks ------------------------------------ */

static bool gpu_ok(const dtxi_backend *b, int dev) { return dev >= 0 && dev < b->ndev; }

/* streams[dev] is a stream of b on device dev, of kind nccl. `who` names the
 * call and the part that needs it ("item 3's source", "the root"). */
static dtx_status check_stream(const dtxi_backend *b, dtxi_stream *const *streams, int dev, const char *call,
                               const char *who) {
  const dtxi_stream *s = streams[dev];
  if (s == NULL)
    return dtxi_fail(DTX_EINVAL,
                     "%s: streams[%d] is NULL but %s is on gpu %d; create a stream of kind nccl there", call,
                     dev, who, dev);
  if (s->b != b)
    return dtxi_fail(DTX_EINVAL, "%s: streams[%d] (%s) belongs to another backend", call, dev, s->label);
  if (s->dev != dev)
    return dtxi_fail(DTX_EINVAL, "%s: streams[%d] (%s) is a stream of gpu %d; streams[d] must be on gpu d",
                     call, dev, s->label, s->dev);
  if (s->kind != DTXI_STREAM_NCCL)
    return dtxi_fail(DTX_EINVAL,
                     "%s: streams[%d] (%s) is a %s stream; NCCL transfers need streams of kind nccl", call,
                     dev, s->label, dtxi_stream_kind_name(s->kind));
  return DTX_OK;
}

bool dtxi_nccl_available(dtxi_backend *b) {
  if (b == NULL) {
    dtxi_fail(DTX_EINVAL, "dtxi_nccl_available: backend is NULL");
    return false;
  }
  return b->ops->nccl_available(b);
}

dtx_status dtxi_p2p_group(dtxi_backend *b, const dtxi_p2p_item *items, int n, dtxi_stream *const *streams) {
  static const char call[] = "dtxi_p2p_group";
  if (b == NULL) return dtxi_fail(DTX_EINVAL, "%s: backend is NULL", call);
  if (n < 0) return dtxi_fail(DTX_EINVAL, "%s: n is %d; give the number of items (>= 0)", call, n);
  if (n == 0) return DTX_OK;
  if (items == NULL) return dtxi_fail(DTX_EINVAL, "%s: items is NULL for %d item(s)", call, n);
  if (streams == NULL)
    return dtxi_fail(DTX_EINVAL, "%s: streams is NULL; give one stream of kind nccl per device (%d entries)",
                     call, b->ndev);
  for (int k = 0; k < n; k++) {
    const dtxi_p2p_item *it = &items[k];
    char who[48];
    if (!gpu_ok(b, it->src_dev) || !gpu_ok(b, it->dst_dev)) {
      bool bad_src = !gpu_ok(b, it->src_dev);
      int dev = bad_src ? it->src_dev : it->dst_dev;
      if (dev == DTXI_HOST)
        return dtxi_fail(DTX_EINVAL,
                         "%s: item %d: %s_dev is the host; NCCL moves between GPUs (use copy_async "
                         "for host memory)",
                         call, k, bad_src ? "src" : "dst");
      return dtxi_fail(DTX_EINVAL, "%s: item %d: %s_dev %d does not exist (the backend has %d GPU(s): 0..%d)",
                       call, k, bad_src ? "src" : "dst", dev, b->ndev, b->ndev - 1);
    }
    if (it->src_dev == it->dst_dev)
      return dtxi_fail(DTX_EINVAL,
                       "%s: item %d: src_dev and dst_dev are both gpu %d; within one device use "
                       "copy_async",
                       call, k, it->src_dev);
    if (it->bytes > 0 && (it->src == NULL || it->dst == NULL))
      return dtxi_fail(DTX_EINVAL, "%s: item %d: %s is NULL for a move of %zu bytes", call, k,
                       it->src == NULL ? "src" : "dst", it->bytes);
    snprintf(who, sizeof who, "item %d's source", k);
    dtx_status rc = check_stream(b, streams, it->src_dev, call, who);
    if (rc != DTX_OK) return rc;
    snprintf(who, sizeof who, "item %d's destination", k);
    if ((rc = check_stream(b, streams, it->dst_dev, call, who)) != DTX_OK) return rc;
  }
  return b->ops->p2p_group(b, items, n, streams);
}

dtx_status dtxi_broadcast(dtxi_backend *b, int root, const void *src, void *const *dsts, size_t bytes,
                          dtxi_stream *const *streams) {
  static const char call[] = "dtxi_broadcast";
  if (b == NULL) return dtxi_fail(DTX_EINVAL, "%s: backend is NULL", call);
  if (!gpu_ok(b, root))
    return dtxi_fail(DTX_EINVAL, "%s: root %d is not a GPU of the backend (0..%d)", call, root, b->ndev - 1);
  if (dsts == NULL)
    return dtxi_fail(DTX_EINVAL, "%s: dsts is NULL; give one entry per device (NULL: not a receiver)", call);
  if (streams == NULL)
    return dtxi_fail(DTX_EINVAL, "%s: streams is NULL; give one stream of kind nccl per device (%d entries)",
                     call, b->ndev);
  if (bytes > 0 && src == NULL) return dtxi_fail(DTX_EINVAL, "%s: src is NULL for %zu bytes", call, bytes);
  dtx_status rc = check_stream(b, streams, root, call, "the root");
  if (rc != DTX_OK) return rc;
  for (int d = 0; d < b->ndev; d++) {
    char who[32];
    if (d == root || dsts[d] == NULL) continue;
    snprintf(who, sizeof who, "receiver %d", d);
    if ((rc = check_stream(b, streams, d, call, who)) != DTX_OK) return rc;
  }
  return b->ops->broadcast(b, root, src, dsts, bytes, streams);
}
