/*
 * base/host.c - facts about the machine: online cores (as this process's
 * affinity allows) and physical memory.
 *
 * No state; any thread.
 */
#include "base/host.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <unistd.h>

/* Online cores, or the number this process may run on when its affinity mask
 * (taskset, cgroup cpusets, MPI binding) allows fewer; at least 1. */
int dtxi_num_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
#if defined(__linux__) && defined(CPU_ALLOC)
  long conf = sysconf(_SC_NPROCESSORS_CONF);
  int ncpu = conf > 1024 ? (int)conf : 1024;
  for (int attempt = 0; attempt < 8; attempt++, ncpu *= 2) {
    cpu_set_t *set = CPU_ALLOC(ncpu);
    if (set == NULL) break;
    size_t size = CPU_ALLOC_SIZE(ncpu);
    int rc = sched_getaffinity(0, size, set);
    int err = errno;
    if (rc == 0) {
      long c = CPU_COUNT_S(size, set);
      if (c >= 1 && c < n) n = c;
    }
    CPU_FREE(set);
    if (rc == 0 || err != EINVAL) break; /* EINVAL: the kernel's mask is larger than ours */
  }
#endif
  return n > INT_MAX ? INT_MAX : (int)n;
}

long long dtxi_host_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  if ((long long)pages > LLONG_MAX / page) return LLONG_MAX;
  return (long long)pages * page;
}
