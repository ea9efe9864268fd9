/*
 * array/npy.c - NumPy .npy files in and out (format versions 1.0-3.0 read,
 * 1.0 written, 2.0 when the header needs it).
 *
 * A file is the magic "\x93NUMPY", a version, a little-endian header length,
 * a Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (n, m), }
 * padded with spaces and a newline to a multiple of 64 bytes, then the data.
 * Loading reads the data into memory the new array owns; Fortran-ordered
 * files become arrays with Fortran strides (no transposing copy); big-endian
 * data is byte-swapped. The caller's thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/array.h"
#include "array/complex.h"
#include "base/error.h"

/* The .npy descr of each dtype: byte order ('|' for one byte), then the
 * type code the loader matches. */
static const struct {
  dtx_dtype t;
  const char *descr;
} codes[] = {{DTX_BOOL, "|b1"}, {DTX_I8, "|i1"},  {DTX_I16, "<i2"}, {DTX_I32, "<i4"},  {DTX_I64, "<i8"},
             {DTX_U8, "|u1"},   {DTX_U16, "<u2"}, {DTX_U32, "<u4"}, {DTX_U64, "<u8"},  {DTX_F16, "<f2"},
             {DTX_F32, "<f4"},  {DTX_F64, "<f8"}, {DTX_C64, "<c8"}, {DTX_C128, "<c16"}};

static const char *descr_of(dtx_dtype t) {
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i].t == t) return codes[i].descr;
  return "<f8";
}

dtx_status dtx_save_npy(const dtx_array *a, const char *path) {
  if (a == NULL || path == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_save_npy: %s is NULL", a == NULL ? "array" : "path");
  if (a->deferred) { /* lengths unknown until computed: compute them, then save */
    dtx_array *r = NULL;
    dtx_status rc = dtxa_resolve(a, &r);
    if (rc == DTX_OK) rc = dtx_save_npy(r, path);
    dtx_array_release(r);
    return rc;
  }
  char shp[256] = "(";
  size_t q = 1;
  for (int d = 0; d < a->ndim; d++)
    q += (size_t)snprintf(shp + q, sizeof shp - q, d == 0 ? "%lld" : ", %lld", (long long)a->shape[d]);
  snprintf(shp + q, sizeof shp - q, a->ndim == 1 ? ",)" : ")"); /* (), (3,), (3, 4) */
  char dict[384];
  size_t k = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                              descr_of(a->dtype), shp);
  /* pad: magic(6) + version(2) + length(2) + dict + spaces + '\n' to a multiple of 64 */
  size_t total = 10 + k + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = k + pad + 1;
  size_t bytes = dtx_array_nbytes(a);
  char *data = malloc(bytes > 0 ? bytes : 1);
  if (data == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_save_npy: out of memory for %zu bytes", bytes);
  dtx_status rc = dtxa_compute_into(a, data);
  if (rc != DTX_OK) {
    free(data);
    return rc;
  }
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    free(data);
    return dtxi_fail(DTX_EIO, "dtx_save_npy: cannot open '%s' for writing: %s", path, strerror(errno));
  }
  unsigned char head[10] = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
  int ok = fwrite(head, 1, 10, f) == 10 && fwrite(dict, 1, k, f) == k;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF && fwrite(data, 1, bytes, f) == bytes;
  ok = fclose(f) == 0 && ok;
  free(data);
  if (!ok) return dtxi_fail(DTX_EIO, "dtx_save_npy: writing '%s' failed: %s", path, strerror(errno));
  return DTX_OK;
}

/* The value after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *h, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (p == NULL) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

static void swap_bytes(char *data, size_t n, size_t esz) {
  for (size_t i = 0; i < n; i++) {
    char *e = data + i * esz;
    for (size_t j = 0; j < esz / 2; j++) {
      char t = e[j];
      e[j] = e[esz - 1 - j];
      e[esz - 1 - j] = t;
    }
  }
}

dtx_status dtx_load_npy(dtx_cluster *cl, const char *path, const int64_t *chunks, dtx_array **out) {
  if (cl == NULL || path == NULL || out == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_load_npy: %s is NULL",
                     cl == NULL     ? "cluster"
                     : path == NULL ? "path"
                                    : "out");
  FILE *f = fopen(path, "rb");
  if (f == NULL) return dtxi_fail(DTX_EIO, "dtx_load_npy: cannot open '%s': %s", path, strerror(errno));
  unsigned char head[12];
  char *h = NULL, *data = NULL;
  dtx_status rc = DTX_OK;
  if (fread(head, 1, 8, f) != 8 || memcmp(head, "\x93NUMPY", 6) != 0) {
    rc = dtxi_fail(DTX_EINVAL, "dtx_load_npy: '%s' is not a .npy file (no \\x93NUMPY magic)", path);
    goto done;
  }
  size_t hlen;
  if (head[6] == 1) {
    if (fread(head + 8, 1, 2, f) != 2) goto trunc;
    hlen = (size_t)head[8] | (size_t)head[9] << 8;
  } else if (head[6] == 2 || head[6] == 3) {
    if (fread(head + 8, 1, 4, f) != 4) goto trunc;
    hlen = (size_t)head[8] | (size_t)head[9] << 8 | (size_t)head[10] << 16 | (size_t)head[11] << 24;
  } else {
    rc = dtxi_fail(DTX_EINVAL, "dtx_load_npy: '%s' has format version %d.%d (1.0 to 3.0 are read)", path,
                   head[6], head[7]);
    goto done;
  }
  if (hlen > (1u << 24) || (h = malloc(hlen + 1)) == NULL) {
    rc = dtxi_fail(DTX_EINVAL, "dtx_load_npy: '%s' has a %zu-byte header", path, hlen);
    goto done;
  }
  if (fread(h, 1, hlen, f) != hlen) goto trunc;
  h[hlen] = '\0';
  const char *dv = dict_value(h, "descr"), *fv = dict_value(h, "fortran_order"), *sv = dict_value(h, "shape");
  if (dv == NULL || fv == NULL || sv == NULL || (*dv != '\'' && *dv != '"') || *sv != '(') {
    rc = dtxi_fail(DTX_EINVAL,
                   "dtx_load_npy: '%s' has a header without descr, fortran_order and shape: %.200s", path, h);
    goto done;
  }
  char descr[16] = {0};
  size_t dl = 0;
  for (const char *p = dv + 1; *p && *p != *dv && dl + 1 < sizeof descr; p++) descr[dl++] = *p;
  char order = descr[0];
  const char *code = order == '<' || order == '>' || order == '=' || order == '|' ? descr + 1 : descr;
  dtx_dtype t = (dtx_dtype)0;
  if (strcmp(code, "?") == 0) t = DTX_BOOL;
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (strcmp(code, codes[i].descr + 1) == 0) t = codes[i].t;
  if (t == (dtx_dtype)0) {
    rc = dtxi_fail(
        DTX_EINVAL,
        "dtx_load_npy: '%s' holds dtype '%s'; dtx reads bool (b1), int8 .. int64 (i1 .. i8), "
        "uint8 .. uint64 (u1 .. u8), float16 .. float64 (f2 .. f8) and complex64, complex128 (c8, c16)",
        path, descr);
    goto done;
  }
  int fortran = strncmp(fv, "True", 4) == 0;
  int64_t shape[DTX_ARRAY_MAX_DIMS];
  int nd = 0;
  const char *p = sv + 1;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p) {
      rc = dtxi_fail(DTX_EINVAL, "dtx_load_npy: '%s' has a shape that does not parse: %.80s", path, sv);
      goto done;
    }
    if (nd == DTX_ARRAY_MAX_DIMS) {
      rc = dtxi_fail(DTX_EINVAL, "dtx_load_npy: '%s' has more than %d dimensions", path, DTX_ARRAY_MAX_DIMS);
      goto done;
    }
    shape[nd++] = v;
    p = end;
  }
  int64_t chunk[DTX_ARRAY_MAX_DIMS];
  if ((rc = dtxa_check_shape("dtx_load_npy", nd, shape, chunks, t, chunk)) != DTX_OK) goto done;
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= shape[d];
  size_t esz = dtx_dtype_size(t), bytes = (size_t)n * esz;
  if ((data = dtxa_alloc_host(bytes)) == NULL) {
    rc = dtxi_fail(DTX_ENOMEM, "dtx_load_npy: out of memory for %zu bytes", bytes);
    goto done;
  }
  if (fread(data, 1, bytes, f) != bytes) goto trunc;
  int cx = dtxa_is_cx(t); /* byte order is per part */
  if (order == '>' && esz > 1) swap_bytes(data, (size_t)n << cx, esz >> cx);
  int64_t st[DTX_ARRAY_MAX_DIMS], s = 1;
  for (int d = 0; d < nd; d++) {
    int dd = fortran ? d : nd - 1 - d;
    st[dd] = s;
    s *= shape[dd];
  }
  dtx_array *a;
  if (cx) { /* the pairs: one more axis of 2 parts, strides in parts */
    if (nd == DTX_ARRAY_MAX_DIMS) {
      rc = dtxi_fail(DTX_EINVAL, "dtx_load_npy: '%s': complex arrays have at most %d dimensions", path,
                     DTX_ARRAY_MAX_DIMS - 1);
      goto done;
    }
    for (int d = 0; d < nd; d++) st[d] *= 2;
    shape[nd] = chunk[nd] = 2;
    st[nd] = 1;
    dtx_array *pairs = dtxa_ext(cl, nd + 1, shape, chunk, dtxa_cx_part(t), data, st, data);
    a = pairs != NULL ? dtxa_cx_wrap(pairs) : NULL;
    if (pairs != NULL && a == NULL) data = NULL; /* freed with pairs */
    dtx_array_release(pairs);
  } else {
    a = dtxa_ext(cl, nd, shape, chunk, t, data, st, data);
  }
  if (a == NULL) {
    rc = DTX_ENOMEM;
    goto done;
  }
  data = NULL;
  *out = dtxa_ret(a);
  goto done;
trunc:
  rc = dtxi_fail(DTX_EINVAL, "dtx_load_npy: '%s' is truncated", path);
done:
  free(h);
  free(data);
  fclose(f);
  return rc;
}
