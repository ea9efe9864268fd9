/*
 * dtx/array.h - chunked n-d arrays (Dask's dask.array) on the local cluster.
 *
 * A dtx_array is a lazy n-d array (up to DTX_ARRAY_MAX_DIMS dimensions) cut
 * into regular chunks, the last chunk along an axis possibly shorter. Every
 * operation returns a new array that remembers how it is made; nothing runs
 * until dtx_array_compute, dtx_array_persist or dtx_save_npy builds a task
 * graph (one task per output chunk and operation, keyed `<op>-<serial>[i,j]`;
 * a key holds at most DTX_MAX_INDICES indices, so past 4 dimensions the
 * leading chunk indices fold into the first, in C order of the chunk grid)
 * and runs it on the cluster's scheduler. A chain of elementwise operations,
 * views (transpose, slices, broadcasting) and the first stage of a reduction
 * over the same chunks runs as one task per chunk, with no intermediate chunks.
 *
 * Handles. Every function returning a dtx_array * hands the caller one
 * reference, dropped with dtx_array_release. Operations keep references to
 * their inputs, so inputs may be released at once. Inside
 * dtx_array_scope_begin / dtx_array_scope_end (per thread, nestable), every
 * array made is released by the scope's end unless dtx_array_keep took it
 * out, so nested expressions need no temporaries:
 *
 *   dtx_array_scope_begin();
 *   dtx_array *x = dtx_random_uniform(cl, 2, (int64_t[]){8192, 8192},
 *                                     (int64_t[]){1024, 1024}, DTX_F64, 42);
 *   double total;
 *   dtx_status rc = dtx_array_compute(dtx_sum(dtx_add(x, dtx_transpose(x, NULL)), NULL, 0),
 *                                     &total, sizeof total);
 *   dtx_array_scope_end();
 *
 * Errors. A function returning a dtx_array * returns NULL on bad input
 * (DTX_EINVAL: shapes, axes, dtypes, chunks or indices that do not fit, named
 * in dtx_last_error()) or when out of memory. Given a NULL input it returns
 * NULL and leaves the earlier message in place, so a nested expression
 * reports its first failure. Functions returning dtx_status say why.
 *
 * Threads. Arrays are immutable once made: any thread may use, combine and
 * compute them; the reference count is atomic. Scopes are per thread.
 *
 * Element type rules follow NumPy 2 (NEP 50). The dtypes are bool, int8 ..
 * int64, uint8 .. uint64, float16, float32 and float64 (dtx_dtype). float16
 * is IEEE binary16 held as its bits: it is computed in float32 and rounded to
 * nearest even once per operation, as NumPy's half loops. Mixing dtypes gives
 * the smallest type holding both (np.result_type): int32 with float32 is
 * float64, int8 with float16 float16, int16 with float16 float32, a signed
 * with an unsigned integer the signed type twice as wide as the unsigned one
 * (uint8 with int8 is int16), uint64 with any signed integer float64. True
 * division of integers gives float64; float functions (exp, sqrt, ...) give
 * the smallest float holding the operand (bool, int8, uint8: float16; 16-bit
 * integers: float32; wider: float64); comparisons give bool; bool ** bool is
 * int8; integer arithmetic wraps; sum/prod of bool and signed integers give
 * int64, of unsigned integers uint64; mean/var/std of integers give float64;
 * min/max keep the dtype (uint64 ordered as unsigned).
 * Python scalars. A 0-d array made by dtx_scalar / dtx_scalar_int stands for a
 * Python float / int and is weakly typed while it is a direct operand of an
 * elementwise operation: it takes the other operand's dtype when that is of
 * its kind or higher (float32 * 2.0 is float32, float16 * 2.0 float16, int32 *
 * 7 int32, uint8 + 7 uint8, int8 + 1.5 float64, bool + 7 int64). Whatever an
 * operation makes of it is an ordinary (strong) array of the default dtype, as
 * NumPy's functions of a Python scalar give NumPy scalars:
 * dtx_exp(dtx_scalar(2.0)) and dtx_div(dtx_scalar_int(7), dtx_scalar_int(2))
 * are float64, so either times a float32 array is float64. Likewise
 * dtx_astype, dtx_where, dtx_dot, dtx_sum and dtx_array_persist of a scalar
 * give strong arrays (dtx_dot(2.5, x) of a float32 x is float64, as np.dot). A
 * Python int that the integer operand's dtype does not hold (int32 beside
 * 2**32, uint8 beside 300 or -1) is compared by its value (x == 2**32 is
 * false; beside uint64 the comparison is made in float64) and is DTX_EINVAL in
 * arithmetic, as NumPy's OverflowError (dtx_where converts it as NumPy does,
 * wrapping). An integer to a negative integer power is DTX_EINVAL, as NumPy's
 * ValueError, when the exponent is a constant known as the array is made (a
 * scalar, full, zeros, ones, through casts and views).
 * dtx_astype: integers wrap, float to integer truncates toward zero and
 * saturates (NaN gives 0; NumPy leaves out-of-range values undefined), float
 * to float16 rounds to nearest even (beyond 65504 gives inf).
 * dtx_arange of integers takes NumPy's values from float bounds (the first two
 * values truncated, then their difference: arange(0.5, 5, 1.5) is 0, 2, 4); of
 * bool it gives at most two values.
 * Deviations: an integer exponent computed by tasks is not checked: a negative
 * one gives 0 (1 or -1 for a base of 1 or -1) where NumPy raises. Reductions
 * of float16 and float32 (sum, prod, mean, var, std) accumulate in float64,
 * within chunks and across them, and round once at the end: the result is the
 * float64 reduction rounded, which is inf only when that value is beyond the
 * dtype's range, where NumPy's float32 pairwise sums can overflow to inf on
 * the way (and lose precision) for a total float32 holds. Chunked reductions
 * cannot repeat NumPy's order of additions anyway,
 * so float results agree to rounding, not bit for bit.
 */
#ifndef DTX_ARRAY_H
#define DTX_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "dtx/cluster.h"
#include "dtx/export.h"
#include "dtx/graph.h"
#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DTX_ARRAY_MAX_DIMS 8

typedef enum dtx_dtype {
  DTX_BOOL = 1, /* one byte, 0 or 1 */
  DTX_I32 = 2,
  DTX_I64 = 3,
  DTX_F32 = 4,
  DTX_F64 = 5,
  DTX_I8 = 6,
  DTX_I16 = 7,
  DTX_U8 = 8,
  DTX_U16 = 9,
  DTX_U32 = 10,
  DTX_U64 = 11,
  DTX_F16 = 12,  /* IEEE binary16, held as its bits (uint16_t); computed in float32 */
  DTX_C64 = 13,  /* complex64: pairs (re, im) of float (dtx/complex.h) */
  DTX_C128 = 14, /* complex128: pairs of double */
} dtx_dtype;

/* NumPy's names ("bool", "int8", ..., "uint64", "float16", "float32",
 * "float64", "complex64", "complex128"); NULL for anything else. */
DTX_API const char *dtx_dtype_name(dtx_dtype t);
/* Bytes per element; 0 for an unknown dtype. */
DTX_API size_t dtx_dtype_size(dtx_dtype t);

typedef struct dtx_array dtx_array;

/* ---- handles ------------------------------------------------------------------ */

/* Adds a reference; returns a. */
DTX_API dtx_array *dtx_array_retain(dtx_array *a);
/* Drops a reference; the last one frees the array (and a persisted array's
 * data). Accepts NULL. */
DTX_API void dtx_array_release(dtx_array *a);
/* Opens a scope on this thread: arrays made until the matching
 * dtx_array_scope_end are released there. */
DTX_API void dtx_array_scope_begin(void);
/* Releases the arrays made since the matching dtx_array_scope_begin that
 * dtx_array_keep did not take out. No-op without an open scope. */
DTX_API void dtx_array_scope_end(void);
/* Takes a out of the innermost scope holding it (the caller now owns that
 * reference); returns a. Accepts NULL. */
DTX_API dtx_array *dtx_array_keep(dtx_array *a);

/* ---- what an array is ------------------------------------------------------------ */

DTX_API int dtx_array_ndim(const dtx_array *a);
DTX_API dtx_dtype dtx_array_dtype(const dtx_array *a);
/* Length of an axis (negative counts from the end); -1 for a bad axis, and
 * along an axis whose length is unknown until computed (see "unknown
 * lengths" below). */
DTX_API int64_t dtx_array_dim(const dtx_array *a, int axis);
/* Chunk length along an axis (the last chunk may be shorter); -1 for a bad axis. */
DTX_API int64_t dtx_array_chunk(const dtx_array *a, int axis);
/* Number of chunks along an axis (0 along an empty axis); -1 for a bad axis. */
DTX_API int64_t dtx_array_numblocks(const dtx_array *a, int axis);
/* Elements (product of the shape; 1 for a 0-d array) and bytes. */
DTX_API int64_t dtx_array_size(const dtx_array *a);
DTX_API size_t dtx_array_nbytes(const dtx_array *a);
DTX_API dtx_cluster *dtx_array_cluster(const dtx_array *a);

/* ---- creation ------------------------------------------------------------------ */
/*
 * shape: ndim lengths (each >= 0; ndim 0..DTX_ARRAY_MAX_DIMS). chunks: ndim
 * chunk lengths (each >= 1; longer than the axis means one chunk), or NULL for
 * automatic chunks (near-square, at most 64 MiB each).
 * Empty arrays. A length of 0 makes an empty array, as in NumPy: it has no
 * chunks along that axis (dtx_array_numblocks 0; dtx_array_chunk stays >= 1)
 * and so no tasks; it computes into a buffer of 0 bytes (NULL allowed).
 * Operations take it as NumPy does: elementwise operations and broadcasting
 * (0 stretches against 1 only) give empty arrays, views of it are empty,
 * concatenate skips empty operands (their dtype still promotes), matmul /
 * dot / tensordot over a contracted length of 0 give zeros, and reductions
 * are described at dtx_reduce.
 */

DTX_API dtx_array *dtx_zeros(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                             dtx_dtype t);
DTX_API dtx_array *dtx_ones(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                            dtx_dtype t);
DTX_API dtx_array *dtx_full(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                            dtx_dtype t, double value);
/* [start, stop) in steps of step (not 0): ceil((stop - start) / step) values,
 * none (an empty array) when that is not positive, e.g. arange(5, 0). */
DTX_API dtx_array *dtx_arange(dtx_cluster *cl, double start, double stop, double step, int64_t chunk,
                              dtx_dtype t);
/* num (>= 0) evenly spaced values from start to stop (included when endpoint). */
DTX_API dtx_array *dtx_linspace(dtx_cluster *cl, double start, double stop, int64_t num, int endpoint,
                                int64_t chunk, dtx_dtype t);
/* n x m (m 0: n x n) with ones on diagonal k (0: main, > 0: above, < 0:
 * below). chunks: 2 or NULL. */
DTX_API dtx_array *dtx_eye(dtx_cluster *cl, int64_t n, int64_t m, int64_t k, const int64_t *chunks,
                           dtx_dtype t);
/* Uniform on [0, 1) and standard normal (float dtypes only), from Philox4x32-10
 * keyed by seed and counted by the element's global index in C order: the
 * same numbers whatever the chunking, the scheduler or the device. */
DTX_API dtx_array *dtx_random_uniform(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                                      dtx_dtype t, uint64_t seed);
DTX_API dtx_array *dtx_random_normal(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                                     dtx_dtype t, uint64_t seed);
/* 0-d arrays standing for a Python float / int scalar: weakly typed as a
 * direct operand, as in NumPy (`x * 2.0` keeps a float32 x float32), while
 * what operations make of them is strongly typed (see the top of this file). */
DTX_API dtx_array *dtx_scalar(dtx_cluster *cl, double v);
DTX_API dtx_array *dtx_scalar_int(dtx_cluster *cl, int64_t v);

typedef enum dtx_host_mode {
  DTX_HOST_COPY = 0, /* the array keeps its own copy; the buffer may be reused at once */
  DTX_HOST_WRAP = 1, /* the array reads the buffer in place: it must stay valid and unchanged
                      * while the array (or anything computed from it) is in use */
} dtx_host_mode;

/* An array over a C-ordered host buffer of the given shape and dtype. */
DTX_API dtx_array *dtx_from_host(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                                 dtx_dtype t, const void *data, dtx_host_mode mode);

/* ---- running --------------------------------------------------------------------- */

/* Computes a into buf (C order; size must be dtx_array_nbytes(a): 0 for an
 * empty array, whose buf may be NULL), whose
 * elements are of dtype `dtype`: it must be a's dtype, else DTX_EINVAL naming
 * both (convert with dtx_astype first). DTX_ANY_DTYPE leaves the buffer's
 * dtype unchecked. A failing task gives DTX_ETASK with dtx_last_error()
 * naming its key. */
#define DTX_ANY_DTYPE ((dtx_dtype)0)
DTX_API dtx_status dtx_array_compute_as(const dtx_array *a, dtx_dtype dtype, void *buf, size_t size);
/* dtx_array_compute_as with the dtype of buf's elements: in C11 a macro reads
 * it from buf's pointer type (_Bool, int8_t .. int64_t, uint16_t .. uint64_t,
 * float, double; any other pointer is unchecked: void *, char * and
 * uint8_t * (unsigned char *, the type of raw bytes: a uint8 result goes
 * there unchecked); a float16 result held as uint16_t, which means uint16,
 * needs dtx_array_compute_as(a, DTX_F16, ...) or a void * buffer), in C++11
 * a template does (the same types, bool for _Bool),
 * so `double s; dtx_array_compute(dtx_sum(int32_array, NULL, 0), &s, sizeof s)`
 * is DTX_EINVAL (the sum is int64) instead of garbage. The function itself
 * is unchecked: (dtx_array_compute)(...) in C, a void * buffer in C++. */
DTX_API dtx_status dtx_array_compute(const dtx_array *a, void *buf, size_t size);
#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define DTX_BUFFER_DTYPE(buf) \
  _Generic((buf), _Bool *: DTX_BOOL, int8_t *: DTX_I8, int16_t *: DTX_I16, int32_t *: DTX_I32,             \
           int64_t *: DTX_I64, uint16_t *: DTX_U16, uint32_t *: DTX_U32, uint64_t *: DTX_U64, \
           float *: DTX_F32, double *: DTX_F64, default: DTX_ANY_DTYPE)
#define dtx_array_compute(a, buf, size) dtx_array_compute_as((a), DTX_BUFFER_DTYPE(buf), (buf), (size))
#endif

/* Computes a and keeps the result in memory: *out is an array over it, whose
 * chunks later computations read without recomputing.
 * On the cluster scheduler with GPUs the chunks stay in device memory: `where`
 * NULL spreads them block-cyclically (chunk b on GPU b mod the GPU count),
 * else one DTX_WHERE_* value per chunk in C order of the chunk grid
 * (DTX_WHERE_CPU: host memory; DTX_WHERE_ANY: where the scheduler computed
 * it). Later computations run their work on a chunk where it is and read it
 * in place; releasing the array gives the memory back. Kept chunks count
 * toward DTX_DEVICE_MEMORY_LIMIT: past it, those no task is reading spill to
 * host memory (least recently used first) and come back to their GPU when
 * next read by a later computation (bytes_persisted in dtx_device_stats
 * counts the ones on the device). Persisting a persisted array with where NULL gives it
 * back as it is; with a `where`, a copy placed there.
 * Elsewhere the result is one host buffer and `where` is only checked. */
DTX_API dtx_status dtx_array_persist(const dtx_array *a, const int *where, dtx_array **out);

/* ---- unknown lengths ------------------------------------------------------------- */
/*
 * Arrays whose length is known only once computed (Dask's nan chunks):
 * dtx_mask_select and dtx_unique (dtx/index.h) return 1-d arrays of unknown
 * length, made of pieces (one per task that makes them) of unknown lengths.
 * Shape queries say so: dtx_array_dim and dtx_array_chunk give -1 along the
 * axis, dtx_array_size -1, dtx_array_nbytes 0, dtx_array_shape_known 0;
 * dtx_array_numblocks gives the number of pieces.
 * They are accepted by elementwise operations (dtx_unary and its forms,
 * dtx_astype, dtx_binary / dtx_where / dtx_clip with the other operands
 * 0-d, e.g. Python scalars; the result has an unknown length too) and by
 * reductions (dtx_reduce and its forms: the result's shape is known, e.g.
 * dtx_sum(dtx_mask_select(x, m), NULL, 0)). Every other operation is
 * DTX_EINVAL with a message saying to call dtx_array_compute_chunk_sizes
 * first, whose result has known lengths and is accepted everywhere.
 * Computing an array that depends on unknown lengths (dtx_array_compute,
 * _compute_alloc, _persist, dtx_save_npy) first computes the arrays of
 * unknown length under it and keeps them in host memory, then computes the
 * rest; dtx_array_graph is DTX_EINVAL for it. dtx_array_compute needs a
 * buffer of exactly the computed size (else DTX_EINVAL giving the length):
 * use dtx_array_compute_alloc when the length is not known ahead.
 */

/* 1 when every length of a is known (0 for NULL). */
DTX_API int dtx_array_shape_known(const dtx_array *a);
/* Computes a into a new buffer (malloc'ed; the caller frees it with free(),
 * never NULL on success) of elements of dtype `dtype` (a's dtype, or
 * DTX_ANY_DTYPE; checked as dtx_array_compute_as); *n (may be NULL)
 * receives the number of elements. For any array, of known length or not. */
DTX_API dtx_status dtx_array_compute_alloc(const dtx_array *a, dtx_dtype dtype, void **buf, int64_t *n);
/* Dask's compute_chunk_sizes: *out is a with every length known. The parts
 * of unknown length are computed now and kept in host memory (so they are
 * not computed again); the operations over them stay lazy. An array of
 * known lengths comes back as it is (a new reference). */
DTX_API dtx_status dtx_array_compute_chunk_sizes(const dtx_array *a, dtx_array **out);

/* Writes a to a NumPy .npy file (format 1.0, little endian, C order). */
DTX_API dtx_status dtx_save_npy(const dtx_array *a, const char *path);
/* Reads a .npy file (any dtx dtype: '|b1', '<i1' .. '<i8', '<u1' .. '<u8',
 * '<f2', '<f4', '<f8'; little endian; C or Fortran order) into a new
 * in-memory array. chunks as for creation. */
DTX_API dtx_status dtx_load_npy(dtx_cluster *cl, const char *path, const int64_t *chunks, dtx_array **out);

/* Options for dtx_array_graph. */
typedef struct dtx_array_graph_opts {
  size_t size;   /* sizeof(dtx_array_graph_opts) */
  int no_fusion; /* 1: every operation gets its own tasks (for comparison) */
} dtx_array_graph_opts;
#define DTX_ARRAY_GRAPH_OPTS_INIT \
  { sizeof(dtx_array_graph_opts), 0 }

/* Adds the tasks computing a to g (Dask's __dask_graph__): ids receives, for
 * each chunk in C order of the chunk grid, the task whose output is that
 * chunk (C order, dtx_array_chunk sized, ragged at the ends). nids must be the
 * number of chunks. Arrays a reads in place (persisted or wrapped ones) must
 * outlive every computation of g. The tasks are made for the cluster's
 * scheduler: with GPUs and the cluster scheduler they carry CUDA kernels and
 * host data enters through load tasks; otherwise they are CPU tasks that
 * read host data in place. opts may be NULL. */
DTX_API dtx_status dtx_array_graph(const dtx_array *a, dtx_graph *g, dtx_task_id *ids, size_t nids,
                                   const dtx_array_graph_opts *opts);

/* ---- elementwise ------------------------------------------------------------------ */

typedef enum dtx_unary_op {
  DTX_NEG = 1,
  DTX_ABS,
  DTX_EXP,
  DTX_LOG,
  DTX_SQRT,
  DTX_SIN,
  DTX_COS,
  DTX_TANH,
  DTX_ISNAN, /* isnan, isinf, isfinite: bool, for every dtype (integers and bool hold no nan or inf) */
  DTX_ISINF,
  DTX_ISFINITE,
  DTX_RINT, /* to the nearest integer, ties to even; a float function (integers promote as for exp) */
} dtx_unary_op;

typedef enum dtx_binary_op {
  DTX_ADD = 1,
  DTX_SUB,
  DTX_MUL,
  DTX_DIV, /* true division */
  DTX_POW,
  DTX_MINIMUM, /* NaN propagates */
  DTX_MAXIMUM,
  DTX_EQ, /* comparisons give bool */
  DTX_NE,
  DTX_LT,
  DTX_LE,
  DTX_GT,
  DTX_GE,
  DTX_FLOOR_DIVIDE, /* a // b and a % b with Python's signs: see dtx_floor_divide */
  DTX_MOD,
} dtx_binary_op;

DTX_API dtx_array *dtx_unary(dtx_unary_op op, const dtx_array *a);
/* a op b with NumPy broadcasting (shapes aligned at the end; a length-1 axis
 * stretches) and type promotion. The result takes the chunks of a (of b
 * where a is broadcast along an axis). */
DTX_API dtx_array *dtx_binary(dtx_binary_op op, const dtx_array *a, const dtx_array *b);
/* a op s, s a Python float scalar (dtx_scalar). */
DTX_API dtx_array *dtx_binary_scalar(dtx_binary_op op, const dtx_array *a, double s);

DTX_API dtx_array *dtx_add(const dtx_array *a, const dtx_array *b);
DTX_API dtx_array *dtx_sub(const dtx_array *a, const dtx_array *b);
DTX_API dtx_array *dtx_mul(const dtx_array *a, const dtx_array *b);
DTX_API dtx_array *dtx_div(const dtx_array *a, const dtx_array *b);
DTX_API dtx_array *dtx_pow(const dtx_array *a, const dtx_array *b);
DTX_API dtx_array *dtx_minimum(const dtx_array *a, const dtx_array *b);
DTX_API dtx_array *dtx_maximum(const dtx_array *a, const dtx_array *b);
DTX_API dtx_array *dtx_neg(const dtx_array *a);
DTX_API dtx_array *dtx_abs(const dtx_array *a);
DTX_API dtx_array *dtx_exp(const dtx_array *a);
DTX_API dtx_array *dtx_log(const dtx_array *a);
DTX_API dtx_array *dtx_sqrt(const dtx_array *a);
DTX_API dtx_array *dtx_sin(const dtx_array *a);
DTX_API dtx_array *dtx_cos(const dtx_array *a);
DTX_API dtx_array *dtx_tanh(const dtx_array *a);
/* numpy.isnan / isinf / isfinite: bool arrays; of integer and bool arrays
 * all false, all false and all true. */
DTX_API dtx_array *dtx_isnan(const dtx_array *a);
DTX_API dtx_array *dtx_isinf(const dtx_array *a);
DTX_API dtx_array *dtx_isfinite(const dtx_array *a);
/* numpy.rint: the nearest integer, ties to even (-0.5 gives -0.0); nan and
 * inf stay. Integers and bool promote as for exp (int8, uint8, bool:
 * float16; 16-bit: float32; wider: float64). */
DTX_API dtx_array *dtx_rint(const dtx_array *a);
/* numpy.round(a, decimals) (half to even at `decimals` decimal digits;
 * negative: to multiples of 10**-decimals), computed as NumPy computes it:
 * rint(a * 10**d) / 10**d (decimals d > 0) or rint(a / 10**-d) * 10**-d (d <
 * 0) in a's float dtype, each step rounded to it (float32: 10**d is a
 * float32 too, so round(x, 12) loses digits as NumPy's does; float16 past
 * d = 4 gives nan, 10**5 being inf in float16). Integers: decimals >= 0
 * gives a unchanged; negative decimals compute in float64 as NumPy does (so
 * int64 values past 2**53 round as float64 first) and convert back. A
 * result past the dtype's range (or nan, past 10**308) converts as NumPy's
 * scalar cast does on x86-64 (round(int8 127, -1) is -126, round(int32
 * 2**31-1, -1) is INT32_MIN): C leaves that cast undefined, and NumPy's
 * vector loops give other values there for longer arrays (uint32, uint64),
 * so only in-range results are NumPy's for sure. bool: decimals 0 is rint
 * (float16), others are DTX_EINVAL (NumPy's casting error). The result has
 * a's dtype (bool: float16). */
DTX_API dtx_array *dtx_round(const dtx_array *a, int decimals);
/* numpy.floor_divide (a // b) and numpy.mod / remainder (a % b), broadcast
 * and promoted as the other binary operations (bool with bool gives int8):
 * the quotient rounds toward -inf and the remainder has the divisor's sign,
 * as in Python, so a == (a // b) * b + a % b. Integers: a zero divisor gives
 * 0 for both, silently (NumPy gives 0 too, with a RuntimeWarning that dtx
 * does not raise), and INT_MIN // -1 wraps to INT_MIN (its % is 0), as
 * NumPy. Floats follow NumPy's npy_divmod bit for bit: x // 0.0 is x / 0.0
 * (+-inf, nan for 0 or nan x) and x % 0.0 nan; a zero remainder takes the
 * divisor's sign (mod(-0.0, 3) is 0.0, mod(3, -3) is -0.0); for finite x,
 * x % +-inf is x when x is 0 or has the divisor's sign, else the divisor
 * (mod(-5, inf) is inf), and x // +-inf is 0 (signed) or -1 alike; an inf
 * or nan dividend gives nan for both. float16 computes in float32 and
 * rounds once, as NumPy. */
DTX_API dtx_array *dtx_floor_divide(const dtx_array *a, const dtx_array *b);
DTX_API dtx_array *dtx_mod(const dtx_array *a, const dtx_array *b);
/* cond ? a : b, all three broadcast together; cond is read as bool. */
DTX_API dtx_array *dtx_where(const dtx_array *cond, const dtx_array *a, const dtx_array *b);
/* numpy.clip(a, lo, hi) with lo, hi Python float scalars: minimum(maximum(a,
 * lo), hi), so lo > hi gives hi and a nan bound or element gives nan (as
 * NumPy). a keeps its float dtype (float16 and float32 too); an integer or
 * bool a becomes float64, as `np.clip(x, 0.5, 2.5)` in NumPy 2. Clipping to
 * integer bounds in a's integer dtype: dtx_minimum(dtx_maximum(a,
 * dtx_scalar_int(cl, lo)), dtx_scalar_int(cl, hi)). */
DTX_API dtx_array *dtx_clip(const dtx_array *a, double lo, double hi);
/* a converted to t (float to int truncates toward zero, saturating; NaN gives 0). */
DTX_API dtx_array *dtx_astype(const dtx_array *a, dtx_dtype t);

/* ---- reductions ------------------------------------------------------------------ */

typedef enum dtx_reduction {
  DTX_SUM = 1,
  DTX_PROD,
  DTX_MEAN,
  DTX_MIN, /* NaN propagates */
  DTX_MAX,
  DTX_VAR, /* numerically stable (per-chunk Welford, merged pairwise) */
  DTX_STD,
  DTX_ARGMIN, /* the first index of the extreme; over one axis or all of them */
  DTX_ARGMAX,
  DTX_ANY,
  DTX_ALL,
} dtx_reduction;

typedef struct dtx_reduce_opts {
  size_t size;     /* sizeof(dtx_reduce_opts) */
  int keepdims;    /* 1: reduced axes stay, with length 1 */
  int split_every; /* fan-in of each tree stage (0: 4, as Dask's default) */
  int ddof;        /* var / std: divide by n - ddof */
} dtx_reduce_opts;
#define DTX_REDUCE_OPTS_INIT \
  { sizeof(dtx_reduce_opts), 0, 0, 0 }

/* Reduces over axes[0..naxes) (negative counts from the end; axes NULL or
 * naxes 0: every axis). ARGMIN / ARGMAX take one axis or all (then the index
 * is into the flattened array). opts may be NULL.
 * Over an empty axis (as NumPy): SUM and ANY give 0 (false), PROD and ALL 1
 * (true), MEAN, VAR and STD NaN (NumPy warns "Mean of empty slice" /
 * "Degrees of freedom <= 0 for slice"; dtx logs that once, at warning
 * level), and MIN, MAX, ARGMIN and ARGMAX, which have no identity, are
 * DTX_EINVAL naming the reduction (NumPy's ValueError). Over non-empty axes
 * of an array empty along another, the result is empty. */
DTX_API dtx_array *dtx_reduce(const dtx_array *a, dtx_reduction r, const int *axes, int naxes,
                              const dtx_reduce_opts *opts);
DTX_API dtx_array *dtx_sum(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_prod(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_mean(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_min(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_max(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_var(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_std(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_any(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_all(const dtx_array *a, const int *axes, int naxes);
#define DTX_NO_AXIS (-2147483647 - 1)
/* axis: one axis, or DTX_NO_AXIS for the index into the flattened array. */
DTX_API dtx_array *dtx_argmin(const dtx_array *a, int axis);
DTX_API dtx_array *dtx_argmax(const dtx_array *a, int axis);

/* ---- linear algebra ------------------------------------------------------------ */

/* a @ b as numpy.matmul: 2-d a (m x k) times 2-d b (k x n): one task per
 * output chunk, a BLAS gemm per contracted chunk pair (OpenBLAS on CPU
 * threads, cuBLAS on GPUs). n-d operands are stacks of matrices in their
 * last two axes: the batch axes before them broadcast (NumPy's rules) and the
 * result, (batch..., m, n), is chunked by 1 along them, so each task is one
 * 2-d product of one batch index. A 1-d a is a row (1 x k), a 1-d b a column
 * (k x 1), the added axis removed from the result (1-d @ 1-d is the inner
 * product, 0-d); 0-d operands are DTX_EINVAL (NumPy's ValueError). The
 * worker threads are the parallelism: the first product sets OpenBLAS to one
 * thread of its own (openblas_set_num_threads(1)), as Dask users do with
 * OMP_NUM_THREADS=1. Operands that are views of host data (persisted,
 * wrapped, sliced or transposed) are read in place. */
DTX_API dtx_array *dtx_matmul(const dtx_array *a, const dtx_array *b);
/* dot as numpy.dot: matmul for 2-d operands, the inner product for two 1-d
 * ones, matrix-vector products for a 2-d and a 1-d, the product for a 0-d
 * one; for n-d operands the sum over the last axis of a and the
 * second-to-last of b (its only one when 1-d), shape a.shape[:-1] +
 * b.shape[:-2] + b.shape[-1:] (tensordot over those axes). */
DTX_API dtx_array *dtx_dot(const dtx_array *a, const dtx_array *b);
/* Contracts axes_a[i] of a with axes_b[i] of b (n pairs, any axes; negative
 * counts from the end), as numpy.tensordot(a, b, axes=(axes_a, axes_b)):
 * a's free axes then b's. Operands past 2 dimensions go through the batched
 * matmul (the contracted axes but one become batch axes, summed after), so
 * the free axes of both but one each, the contracted ones but one, and the
 * product's two axes must fit in DTX_ARRAY_MAX_DIMS. */
DTX_API dtx_array *dtx_tensordot(const dtx_array *a, const dtx_array *b, const int *axes_a, const int *axes_b,
                                 int n);
/* Permutes the axes (perm NULL: reverses them). A view: no data moves until
 * a consumer reads it. */
DTX_API dtx_array *dtx_transpose(const dtx_array *a, const int *perm);

/* ---- indexing and shape ------------------------------------------------------- */

/* One entry of an index expression, as in x[1:7:2, 3, ::-1]. */
typedef enum dtx_index_kind {
  DTX_INDEX_SLICE = 0, /* start:stop:step */
  DTX_INDEX_INT = 1,   /* one position; the axis is dropped */
  DTX_INDEX_NEWAXIS = 2,
} dtx_index_kind;
/* A start or stop left out (Python's None). */
#define DTX_NONE INT64_MIN
typedef struct dtx_index {
  dtx_index_kind kind;
  int64_t start, stop, step; /* SLICE: start / stop DTX_NONE for Python's None; step not 0 (1 for
                              * the default: INT64_MIN, which is DTX_NONE, is the step -2**63);
                              * INT: start */
} dtx_index;

/* x[idx[0], ..., idx[n-1]]: axes not indexed are taken whole. Negative
 * positions count from the end. As in Python, slice bounds past either end
 * are clamped to the axis (never an error) and a slice may select nothing
 * (an empty array: x[5:5], x[7:3]); a step of 0 is DTX_EINVAL ("slice step
 * cannot be zero", Python's ValueError), and so is an integer index out of
 * range (Python's IndexError). A view. */
DTX_API dtx_array *dtx_slice(const dtx_array *a, int n, const dtx_index *idx);
/* Concatenates along axis; the arrays must agree on every other axis. The
 * result has the chunks of the first array and the promoted dtype. */
DTX_API dtx_array *dtx_concatenate(dtx_array *const *arrays, int n, int axis);
/* Stacks equal-shaped arrays along a new axis. */
DTX_API dtx_array *dtx_stack(dtx_array *const *arrays, int n, int axis);
/* The same values with new chunk lengths (one per axis). */
DTX_API dtx_array *dtx_rechunk(const dtx_array *a, const int64_t *chunks);
/* a broadcast to shape (NumPy rules). A view. */
DTX_API dtx_array *dtx_broadcast_to(const dtx_array *a, int ndim, const int64_t *shape);

/* ---- user kernels --------------------------------------------------------------- */

/* One chunk as a user kernel sees it. On a GPU, data is device memory.
 * Element (i0, i1, ...) is at data + (i0 * stride[0] + i1 * stride[1] + ...)
 * elements: a kernel must use the strides, since a block may be a window of
 * a larger array (read in place, or written straight into the result). */
typedef struct dtx_block {
  void *data; /* inputs are read-only */
  dtx_dtype dtype;
  int ndim;
  int64_t shape[DTX_ARRAY_MAX_DIMS];  /* of data, halos included */
  int64_t stride[DTX_ARRAY_MAX_DIMS]; /* in elements */
  int64_t index[DTX_ARRAY_MAX_DIMS];  /* the block's index in the chunk grid */
  int64_t start[DTX_ARRAY_MAX_DIMS];  /* global index of the block's first interior element */
  int64_t halo[DTX_ARRAY_MAX_DIMS];   /* map_overlap: halo depth on each side (data includes it) */
} dtx_block;

/* A user kernel: reads in[0..nin), writes out (already allocated, shape of the
 * output block). Returns 0, or dtx_task_fail(ctx, ...). A CUDA kernel
 * enqueues its work on dtx_task_stream(ctx) and returns. */
typedef int (*dtx_block_fn)(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out,
                            const void *user);

/* Calls fn on each chunk of the inputs (equal shapes; all are read in the
 * chunks of the first) to make the chunk of the output: same shape and chunks
 * as in[0], dtype out_dtype. cpu and/or cuda (at least one); a cuda kernel
 * runs on GPUs of a cluster scheduler, cpu elsewhere. name prefixes the task
 * keys (NULL: "map_blocks"). user (user_size bytes) is copied and handed to
 * every call. */
DTX_API dtx_array *dtx_map_blocks(const char *name, dtx_block_fn cpu, dtx_block_fn cuda, dtx_array *const *in,
                                  int nin, dtx_dtype out_dtype, const void *user, size_t user_size);

typedef enum dtx_boundary {
  DTX_BOUNDARY_PERIODIC = 0, /* wraps around */
  DTX_BOUNDARY_CONSTANT = 1, /* the constant beyond the edges */
  DTX_BOUNDARY_NEAREST = 2,  /* the edge value repeated */
} dtx_boundary;

/* Like dtx_map_blocks over one input, but each chunk comes with depth[axis]
 * extra elements on both sides (halo), taken from the neighbouring chunks
 * (wherever they were computed) or, past the array's edges, from the
 * boundary rule. fn writes only the interior: out has the chunk's own shape.
 * depth: one value per axis (>= 0, at most the axis length). */
DTX_API dtx_array *dtx_map_overlap(const char *name, dtx_block_fn cpu, dtx_block_fn cuda, const dtx_array *x,
                                   const int64_t *depth, dtx_boundary boundary, double constant,
                                   dtx_dtype out_dtype, const void *user, size_t user_size);

#ifdef __cplusplus
}

#if __cplusplus >= 201103L
/* C++: dtx_array_compute(a, buf, size) with a typed buf checks the dtype
 * (see dtx_array_compute_as); a void * buf calls the unchecked function. */
template <typename T>
struct dtx_buffer_dtype {
  static constexpr dtx_dtype value = DTX_ANY_DTYPE;
};
template <>
struct dtx_buffer_dtype<bool> {
  static constexpr dtx_dtype value = DTX_BOOL;
};
template <>
struct dtx_buffer_dtype<int8_t> {
  static constexpr dtx_dtype value = DTX_I8;
};
template <>
struct dtx_buffer_dtype<int16_t> {
  static constexpr dtx_dtype value = DTX_I16;
};
template <>
struct dtx_buffer_dtype<uint16_t> {
  static constexpr dtx_dtype value = DTX_U16;
};
template <>
struct dtx_buffer_dtype<uint32_t> {
  static constexpr dtx_dtype value = DTX_U32;
};
template <>
struct dtx_buffer_dtype<uint64_t> {
  static constexpr dtx_dtype value = DTX_U64;
};
template <>
struct dtx_buffer_dtype<int32_t> {
  static constexpr dtx_dtype value = DTX_I32;
};
template <>
struct dtx_buffer_dtype<int64_t> {
  static constexpr dtx_dtype value = DTX_I64;
};
template <>
struct dtx_buffer_dtype<float> {
  static constexpr dtx_dtype value = DTX_F32;
};
template <>
struct dtx_buffer_dtype<double> {
  static constexpr dtx_dtype value = DTX_F64;
};
template <typename T>
inline dtx_status dtx_array_compute(const dtx_array *a, T *buf, size_t size) {
  return dtx_array_compute_as(a, dtx_buffer_dtype<T>::value, buf, size);
}
#endif
#endif
#endif /* DTX_ARRAY_H */
