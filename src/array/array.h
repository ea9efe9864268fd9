/*
 * array/array.h - what a dtx_array is inside: a node of the expression graph
 * the array operations build, shared by array.c (making nodes), build.c
 * (turning them into tasks) and npy.c.
 *
 * A node is immutable once made and holds references to its inputs. Kinds:
 *   EXT      data in host memory (persisted, copied, wrapped or loaded), read in place
 *   KEPT     persisted on a cluster with GPUs: each chunk kept where it was put
 *            (a GPU's memory, or host memory), read by a task per chunk
 *   GEN      values from the global index (zeros, arange, random, scalars, ...)
 *   UNARY, BINARY, WHERE, CAST   elementwise over inputs broadcast to its shape
 *   VIEW     an affine view of one input (transpose, slices, broadcasting, rechunk)
 *   CONCAT   inputs joined along an axis
 *   REDUCE, MATMUL, MAP, OVERLAP operations with their own tasks
 *   BLOCKS   tasks added by an op's C callback (array/blocks.h: linalg, ...)
 *   CPLX     a complex array over its real pairs (array/complex.h); never the
 *            input of another kind, never seen by build.c's compiler
 * The first six fuse: a consumer's task computes them per element. The last
 * six are sources: their chunks are outputs of their own tasks.
 */
#ifndef DTXA_ARRAY_H
#define DTXA_ARRAY_H

#include <stdatomic.h>
#include <stdint.h>

#include "dtx/array.h"
#include "kernels/program.h"

enum {
  DTXA_EXT = 1,
  DTXA_GEN,
  DTXA_UNARY,
  DTXA_BINARY,
  DTXA_WHERE,
  DTXA_CAST,
  DTXA_VIEW,
  DTXA_CONCAT,
  DTXA_REDUCE,
  DTXA_MATMUL,
  DTXA_MAP,
  DTXA_OVERLAP,
  DTXA_KEPT,
  DTXA_BLOCKS,
  DTXA_CPLX,
};

/* Weak (Python scalar) typing of 0-d arrays. */
enum { DTXA_STRONG = 0, DTXA_WEAK_INT = 1, DTXA_WEAK_FLOAT = 2, DTXA_WEAK_COMPLEX = 3 };

/* Elementwise expressions past this many operations stop fusing: the
 * biggest input is computed by tasks of its own. */
#define DTXA_FUSE_LIMIT 48

struct dtx_array {
  _Atomic int32_t refs;
  int32_t kind;
  dtx_cluster *cl;
  uint64_t serial; /* task keys: <opname>-<serial> */
  const char *opname;
  int ndim;
  dtx_dtype dtype;
  int weak;
  int64_t shape[DTX_ARRAY_MAX_DIMS];
  int64_t chunk[DTX_ARRAY_MAX_DIMS];
  int nin;
  dtx_array **in;
  int op;       /* UNARY / BINARY: the dtx_*_op; REDUCE: the dtx_reduction */
  int nops;     /* elementwise operations fused below and at this node */
  uint32_t mat; /* bit i: input i is computed by its own tasks (too big to fuse) */
  /* VIEW: input dim d = off + step * this[src] (src -1: off) */
  dtxk_dimmap vmap[DTX_ARRAY_MAX_DIMS];
  /* GEN */
  dtxk_gen gen;
  /* CONCAT: input i starts at offs[i] along axis */
  int axis;
  int64_t *offs;
  /* REDUCE: over the input dims in red_mask */
  uint32_t red_mask;
  int keepdims, split_every, ddof;
  /* EXT */
  const void *data;
  int64_t estride[DTX_ARRAY_MAX_DIMS];
  void *owned; /* freed with the node */
  int *where;  /* persisted: DTX_WHERE_* per chunk, or NULL */
  /* KEPT: a slot per chunk (C order of the chunk grid) */
  struct dtxi_keeper *keeper;
  /* MAP / OVERLAP */
  dtx_block_fn fcpu, fcuda;
  void *user;
  size_t user_size;
  char *name;
  int64_t depth[DTX_ARRAY_MAX_DIMS];
  int boundary;
  double constant;
  /* Lengths unknown until computed (array/unknown.c): unknown: this 1-d
   * array's length is (shape[0] then counts its pieces, chunk[0] is 1);
   * deferred: it or something it reads is unknown, so computing it first
   * resolves those (dtxa_resolve). cx_pieces: a source whose pieces are
   * complex values as pairs of its (part) dtype, wrapped by a DTXA_CPLX node
   * (dtxa_unknown_complex). */
  int unknown, deferred, cx_pieces;
};

/* A new node with one reference, its serial and shape set, not in any
 * scope; NULL when out of memory (error set). Inputs are retained. */
dtx_array *dtxa_node(dtx_cluster *cl, int kind, const char *opname, int ndim, const int64_t *shape,
                     const int64_t *chunk, dtx_dtype t, int nin, dtx_array *const *in);
/* dtx_array_scope_begin that says whether it opened one: 0, or -1 (out of
 * memory: then nothing was opened). */
int dtxa_scope_begin(void);
/* Hands a new node to the caller: enters it in the thread's scope. */
dtx_array *dtxa_ret(dtx_array *a);
/* Number of chunks along dim d, and in all. */
static inline int64_t dtxa_nb(const dtx_array *a, int d) {
  return (a->shape[d] + a->chunk[d] - 1) / a->chunk[d];
}
int64_t dtxa_nblocks(const dtx_array *a);
/* The chunk index (one per dim) of chunk b in C order of a's chunk grid. */
static inline void dtxa_block_index(const dtx_array *a, int64_t b, int64_t *idx) {
  for (int d = a->ndim - 1; d >= 0; d--) {
    idx[d] = b % dtxa_nb(a, d);
    b /= dtxa_nb(a, d);
  }
}
/* The length along dim d of the chunks at index i there (ragged at the end). */
static inline int64_t dtxa_chunk_len(const dtx_array *a, int d, int64_t i) {
  int64_t lo = i * a->chunk[d];
  return a->shape[d] - lo < a->chunk[d] ? a->shape[d] - lo : a->chunk[d];
}
/* An EXT node over data (owned: freed with it; NULL when wrapped). */
dtx_array *dtxa_ext(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunk, dtx_dtype t,
                    const void *data, const int64_t *strides, void *owned);
/* Checks shape/chunks; fills chunk (auto when chunks is NULL). */
dtx_status dtxa_check_shape(const char *fn, int ndim, const int64_t *shape, const int64_t *chunks,
                            dtx_dtype t, int64_t *chunk);

/* dtype.c: NumPy 2's dtype rules (see there). */
int dtxa_dkind(dtx_dtype t); /* 0 bool, 1 integer, 2 float, 3 complex */
int dtxa_is_unsigned(dtx_dtype t);
dtx_dtype dtxa_float_for(dtx_dtype t);
dtx_dtype dtxa_float_func_dtype(dtx_dtype t);
dtx_dtype dtxa_reduce_dtype(int r, dtx_dtype t);
int64_t dtxa_int_of(double v, dtx_dtype t);
dtx_dtype dtxa_promote2(dtx_dtype a, dtx_dtype b);
dtx_dtype dtxa_promote(const dtx_array *a, const dtx_array *b);
dtx_status dtxa_pyint_range(const char *name, int op, const dtx_array *a, const dtx_array *b, dtx_dtype *t);
int dtxa_int_const(const dtx_array *x, int64_t *v);
const char *dtxa_dtype_enum_name(dtx_dtype t);

/* Host memory for array data (freed with free): 64-byte aligned, and on
 * transparent huge pages when big. */
void *dtxa_alloc_host(size_t bytes);

/* Tests: when set, every task with a CUDA implementation is placed on a GPU
 * (round-robin) instead of where the scheduler would pick, so the CUDA
 * kernels run (the CPU-vs-CUDA parity test). Set before building. */
extern int dtxa_pin_gpus;

/* unknown.c: lengths unknown until computed (see there). dtxa_node calls
 * dtxa_deferred_inputs: DTX_EINVAL (message set) when an operation of kind
 * `kind` cannot take an input of unknown length; else *unknown and
 * *deferred say what the new node is. */
dtx_status dtxa_deferred_inputs(int kind, const char *opname, int nin, dtx_array *const *in, int *unknown,
                                int *deferred);
/* Marks a new BLOCKS node (1-d, shape[0] pieces of chunk 1, each piece a
 * task output of any length) as a source of unknown length. */
dtx_array *dtxa_unknown_source(dtx_array *a);
/* A complex array (dtype cx, DTX_C64 / DTX_C128) of unknown length over a
 * new source `src` whose pieces are pairs of cx's part dtype (src->dtype):
 * a DTXA_CPLX node over it, the caller's (not in a scope); src is marked
 * and stays the caller's. NULL with the error set. Such an array is
 * computed, persisted, resolved (dtx_array_compute_chunk_sizes) or given to
 * dtx_unique[_all]; other operations ask for it to be resolved first. */
dtx_array *dtxa_unknown_complex(dtx_array *src, dtx_dtype cx);
/* Whether a is a source of unknown length, or a complex array over one:
 * the arrays whose pieces unique tasks read. */
int dtxa_unknown_pieces(const dtx_array *a);
/* *out: a with every unknown length computed (the unknown sources computed
 * and held in host memory; the operations over them made again). */
dtx_status dtxa_resolve(const dtx_array *a, dtx_array **out);
/* dtx_array_compute_as, dtx_array_persist of a deferred array. */
dtx_status dtxa_compute_deferred(const dtx_array *a, dtx_dtype dtype, void *buf, size_t size);
dtx_status dtxa_persist_deferred(const dtx_array *a, const int *where, dtx_array **out);

/* build.c: whether a product's output blocks of `rows` rows split by rows
 * over the CPU threads (when fewer than the workers) on a cluster without
 * GPUs; the contraction is split otherwise (array.c). */
int dtxa_rows_split(int64_t rows);
/* build.c: computes a into host memory at buf (C order). */
dtx_status dtxa_compute_into(const dtx_array *a, void *buf);
/* build.c: computes a's chunks and keeps each in k's slots (one per chunk):
 * on a cluster with GPUs (the cluster scheduler) where `where` says (NULL:
 * block-cyclically over the GPUs), else in host memory on the worker that
 * made it. On failure the slots already filled are given back. */
dtx_status dtxa_persist_kept(const dtx_array *a, const int *where, struct dtxi_keeper *k);

#endif /* DTXA_ARRAY_H */
