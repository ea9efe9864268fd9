/*
 * device/device.c - the GPU probe: what GPUs this process can see, and why none.
 *
 * Owns the process-wide cached probe result, computed once (pthread_once) on
 * the first dtxi_gpu_probe_run by whichever thread gets there first and
 * read-only afterwards; any thread may call. The CUDA half lives in
 * device/cuda/device_cuda.c, compiled only when the CUDA toolkit is found
 * (DTX_HAVE_CUDA). Invariant: count == 0 <=> why_none is a non-empty sentence;
 * 0 <= count <= DTXI_MAX_GPUS. The probe never fails.
 */
#include "device/device.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static dtxi_gpu_probe cached;

static void probe(void) {
  memset(&cached, 0, sizeof cached);
#ifdef DTX_HAVE_CUDA
  dtxi_gpu_probe_cuda(&cached);
#else
  snprintf(cached.why_none, sizeof cached.why_none, "built without CUDA support");
#endif
  if (cached.count < 0) cached.count = 0;
  if (cached.count > DTXI_MAX_GPUS) cached.count = DTXI_MAX_GPUS;
  if (cached.count == 0 && cached.why_none[0] == '\0') {
    snprintf(cached.why_none, sizeof cached.why_none, "no CUDA devices found");
  }
  if (cached.count > 0) cached.why_none[0] = '\0';
}

/* Copies the (cached) probe result into *p. */
void dtxi_gpu_probe_run(dtxi_gpu_probe *p) {
  pthread_once(&probe_once, probe);
  if (p != NULL) *p = cached;
}
