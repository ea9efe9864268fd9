/*
 * kernels/cpu_libs.h - what the CPU kernels run on, for `dtx info`
 * (dtx_cluster_report): the BLAS (name, version, the kernel it chose for
 * this CPU, its threads per call) and the vectorised math of the strips
 * (kernels/vmath.h). A BLAS that runs a generic kernel on a CPU with AVX2 or
 * AVX-512 is named with what to do about it. Any thread; reads only.
 */
#ifndef DTXK_CPU_LIBS_H
#define DTXK_CPU_LIBS_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the report's lines ("  BLAS  ...", "  math  ...") to out. */
void dtxk_cpu_libs_report(FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_CPU_LIBS_H */
