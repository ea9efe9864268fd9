/*
 * base/host.h - facts about the machine the process runs on.
 */
#ifndef DTXI_HOST_H
#define DTXI_HOST_H

#ifdef __cplusplus
extern "C" {
#endif

/* Number of online CPU cores (at least 1), fewer when this process's
 * affinity mask allows fewer. */
int dtxi_num_cores(void);
/* Physical host memory in bytes (0 if unknown). */
long long dtxi_host_memory(void);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_HOST_H */
