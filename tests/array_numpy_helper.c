/*
 * tests/array_numpy_helper.c - dtx_array_compute called from C, where
 * dtx/array.h makes it a macro that reads the buffer's dtype from its
 * pointer type (_Generic); used by tests/array_numpy_test.cc.
 */
#include "dtx/array.h"

dtx_status dtxt_compute_c_double(const dtx_array *a, double *out);
dtx_status dtxt_compute_c_int64(const dtx_array *a, int64_t *out);
dtx_status dtxt_compute_c_void(const dtx_array *a, void *out, size_t size);
dtx_status dtxt_compute_c_unchecked(const dtx_array *a, double *out);

dtx_status dtxt_compute_c_double(const dtx_array *a, double *out) {
  return dtx_array_compute(a, out, sizeof *out);
}
dtx_status dtxt_compute_c_int64(const dtx_array *a, int64_t *out) {
  return dtx_array_compute(a, out, sizeof *out);
}
dtx_status dtxt_compute_c_void(const dtx_array *a, void *out, size_t size) {
  return dtx_array_compute(a, out, size);
}
/* The function itself, past the macro: no dtype check. */
dtx_status dtxt_compute_c_unchecked(const dtx_array *a, double *out) {
  return (dtx_array_compute)(a, out, sizeof *out);
}
