/*
 * dtx/version.h - library version.
 */
#ifndef DTX_VERSION_H
#define DTX_VERSION_H

#include "dtx/export.h"

#define DTX_VERSION_MAJOR 0
#define DTX_VERSION_MINOR 1
#define DTX_VERSION_PATCH 0
#define DTX_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif
/* The version of the library linked at run time. */
DTX_API const char *dtx_version(void);
#ifdef __cplusplus
}
#endif
#endif /* DTX_VERSION_H */
