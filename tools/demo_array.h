/*
 * tools/demo_array.h - the chunked-array part of `dtx demo`.
 */
#ifndef DTX_TOOLS_DEMO_ARRAY_H
#define DTX_TOOLS_DEMO_ARRAY_H

#include <stdint.h>

#include "dtx/dtx.h"

/* Runs the array workload on cl (small: a quick size) and prints it. Returns
 * 0, or 1 after printing the error. */
int demo_arrays(dtx_cluster *cl, int small, uint64_t seed);

#endif /* DTX_TOOLS_DEMO_ARRAY_H */
