/*
 * base/version.c - the version of the library linked at run time.
 *
 * Owns nothing; safe from any thread. Compare with DTX_VERSION_STRING (the
 * version of the headers a program was compiled against).
 */
#include "dtx/version.h"

const char *dtx_version(void) { return DTX_VERSION_STRING; }
