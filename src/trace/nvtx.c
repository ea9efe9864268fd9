/*
 * trace/nvtx.c - NVTX ranges and thread names for Nsight Systems.
 *
 * Built with DTX_HAVE_NVTX (CUDA toolkit found): NVTX 3, header only, one
 * domain "dtx" created once (pthread_once) and kept for the life of the
 * process; ranges carry an ASCII message and an int64 payload. Without NVTX
 * every function is empty. Owns only the domain handle; any thread may call
 * (NVTX push/pop ranges nest per thread).
 */
#include "trace/trace.h"

#if defined(DTX_HAVE_NVTX) && DTX_HAVE_NVTX

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

/* NVTX's loader casts dlsym's void * to a function pointer, which ISO C flags. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <nvtx3/nvToolsExt.h>
#pragma GCC diagnostic pop

static pthread_once_t domain_once = PTHREAD_ONCE_INIT;
static nvtxDomainHandle_t domain;

static void domain_create(void) { domain = nvtxDomainCreateA("dtx"); }

static nvtxDomainHandle_t dtx_domain(void) {
  pthread_once(&domain_once, domain_create);
  return domain;
}

/* Opens a range `name` (ASCII) with payload on the calling thread. */
void dtxi_nvtx_push(const char *name, int64_t payload) {
  nvtxEventAttributes_t a = {0};
  a.version = NVTX_VERSION;
  a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  a.messageType = NVTX_MESSAGE_TYPE_ASCII;
  a.message.ascii = name != NULL ? name : "";
  a.payloadType = NVTX_PAYLOAD_TYPE_INT64;
  a.payload.llValue = payload;
  nvtxDomainRangePushEx(dtx_domain(), &a);
}

/* Closes the calling thread's innermost range. */
void dtxi_nvtx_pop(void) { nvtxDomainRangePop(dtx_domain()); }

/* Names the calling OS thread. */
void dtxi_nvtx_name_thread(const char *name) {
  (void)dtx_domain(); /* NVTX initialises lazily and racily: do it once, first */
  nvtxNameOsThreadA((uint32_t)syscall(SYS_gettid), name != NULL ? name : "");
}

#else /* no NVTX */

void dtxi_nvtx_push(const char *name, int64_t payload) {
  (void)name;
  (void)payload;
}

void dtxi_nvtx_pop(void) {}

void dtxi_nvtx_name_thread(const char *name) { (void)name; }

#endif
