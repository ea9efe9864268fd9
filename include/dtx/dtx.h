/*
 * dtx/dtx.h - everything: include this one.
 */
#ifndef DTX_DTX_H
#define DTX_DTX_H

#include "dtx/array.h"
#include "dtx/cluster.h"
#include "dtx/complex.h"
#include "dtx/export.h"
#include "dtx/fft.h"
#include "dtx/future.h"
#include "dtx/graph.h"
#include "dtx/index.h"
#include "dtx/linalg.h"
#include "dtx/scan.h"
#include "dtx/sort.h"
#include "dtx/stats.h"
#include "dtx/status.h"
#include "dtx/version.h"

#endif /* DTX_DTX_H */
