/*
 * kernels/fused.cu - the CUDA implementations of the array tasks: fused
 * programs (elementwise chunks and the first stage of reductions), combine
 * tasks, loads of host data, and matrix products (cuBLAS).
 *
 * Each implementation runs on the dispatching thread: it reads its argument
 * blob (kernels/program.h), plans the sub-rectangles on the host with the
 * same code the CPU kernels use (kernels/plan.c), and enqueues kernels on the
 * task's stream (dtx_task_stream); it never waits for the GPU. Device kernels
 * evaluate the program per element with the element functions of
 * kernels/elem.h and kernels/reduce.h, the very ones the CPU loops call.
 * cuBLAS is opened with dlopen at the first product on a GPU (like NCCL), so
 * the library neither links it nor needs it for anything else.
 */
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/kernels.h"
#include "kernels/program.h"
#include "kernels/reduce.h"

/* ---- per-element evaluation ------------------------------------------------------------ */

typedef union kval {
  double f64;
  float f32;
  int64_t i64;
  int32_t i32;
  dtxk_b b;
} kval;

typedef struct kleaf {
  const char *ptr;
  int64_t stride[DTXK_MAX_DIMS];
  int32_t kind, dtype;
  double fill;
  dtxk_gen gen;
  int64_t flat0;
} kleaf;

#define KMAX_CONST 32

typedef struct kparams {
  int32_t ninstr, nleaves, result, rdtype; /* rdtype: the result register's dtype */
  int32_t out_dtype;                       /* written as this (reductions: the acc type) */
  int32_t pad;
  int64_t ext[DTXK_MAX_DIMS];
  char *out;
  int64_t ostride[DTXK_MAX_DIMS];
  dtxk_instr ins[DTXK_MAX_INSTR];
  dtxk_const consts[KMAX_CONST];
  kleaf leaves[DTXK_MAX_LEAVES];
} kparams;

__device__ static kval kload(const char *p, int dt) {
  kval v;
  v.i64 = 0;
  switch (dt) {
    case DTXK_BOOL:
      v.b = *(const dtxk_b *)p;
      break;
    case DTXK_I32:
      v.i32 = *(const int32_t *)p;
      break;
    case DTXK_I64:
      v.i64 = *(const int64_t *)p;
      break;
    case DTXK_F32:
      v.f32 = *(const float *)p;
      break;
    default:
      v.f64 = *(const double *)p;
      break;
  }
  return v;
}

__device__ static void kstore(char *p, int dt, kval v) {
  switch (dt) {
    case DTXK_BOOL:
      *(dtxk_b *)p = v.b;
      break;
    case DTXK_I32:
      *(int32_t *)p = v.i32;
      break;
    case DTXK_I64:
      *(int64_t *)p = v.i64;
      break;
    case DTXK_F32:
      *(float *)p = v.f32;
      break;
    default:
      *(double *)p = v.f64;
      break;
  }
}

/* v (of dtype from) as dtype to */
__device__ static kval kcast(kval v, int from, int to) {
  kval r;
  r.i64 = 0;
#define KC_TO(S, T, ID)              \
  case ID:                           \
    switch (from) {                  \
      case DTXK_BOOL:                \
        r.S = DTXK_CV_##S(v.b, 0);   \
        break;                       \
      case DTXK_I32:                 \
        r.S = DTXK_CV_##S(v.i32, 0); \
        break;                       \
      case DTXK_I64:                 \
        r.S = DTXK_CV_##S(v.i64, 0); \
        break;                       \
      case DTXK_F32:                 \
        r.S = DTXK_CV_##S(v.f32, 1); \
        break;                       \
      default:                       \
        r.S = DTXK_CV_##S(v.f64, 1); \
        break;                       \
    }                                \
    break;
  switch (to) {
    KC_TO(b, dtxk_b, DTXK_BOOL)
    KC_TO(i32, int32_t, DTXK_I32)
    KC_TO(i64, int64_t, DTXK_I64)
    KC_TO(f32, float, DTXK_F32)
    KC_TO(f64, double, DTXK_F64)
  }
#undef KC_TO
  return r;
}

__device__ static kval kgen(const dtxk_gen *g, int gt, int64_t flat) {
  kval r;
  r.i64 = 0;
  switch (gt) {
    case DTXK_F64:
      r.f64 = dtxk_gen_f64(g, flat, gt);
      break;
    case DTXK_F32:
      r.f32 = (float)dtxk_gen_f64(g, flat, gt);
      break;
    case DTXK_I64:
      r.i64 = dtxk_gen_i64(g, flat);
      break;
    case DTXK_I32:
      r.i32 = (int32_t)dtxk_gen_i64(g, flat);
      break;
    default:
      r.b = dtxk_gen_f64(g, flat, gt) != 0;
      break;
  }
  return r;
}

__device__ static kval kunary(int op, int dt, kval a) {
  kval r = a;
  switch (dt) {
    case DTXK_F64:
      switch (op) {
#define KU(NAME, ID)                  \
  case ID:                            \
    r.f64 = dtxk_##NAME##_f64(a.f64); \
    break;
        DTXK_UNARY_OPS(KU)
#undef KU
      }
      break;
    case DTXK_F32:
      switch (op) {
#define KU(NAME, ID)                  \
  case ID:                            \
    r.f32 = dtxk_##NAME##_f32(a.f32); \
    break;
        DTXK_UNARY_OPS(KU)
#undef KU
      }
      break;
    case DTXK_I64:
      r.i64 = op == 1 ? dtxk_neg_i64(a.i64) : dtxk_abs_i64(a.i64);
      break;
    case DTXK_I32:
      r.i32 = op == 1 ? dtxk_neg_i32(a.i32) : dtxk_abs_i32(a.i32);
      break;
    default:
      break;
  }
  return r;
}

__device__ static kval kbinary(int op, int dt, kval a, kval b) {
  kval r;
  r.i64 = 0;
#define KB_ARITH(S)                     \
  switch (op) {                         \
    case 1:                             \
      r.S = dtxk_add_##S(a.S, b.S);     \
      break;                            \
    case 2:                             \
      r.S = dtxk_sub_##S(a.S, b.S);     \
      break;                            \
    case 3:                             \
      r.S = dtxk_mul_##S(a.S, b.S);     \
      break;                            \
    case 4:                             \
      r.S = dtxk_div_##S(a.S, b.S);     \
      break;                            \
    case 5:                             \
      r.S = dtxk_pow_##S(a.S, b.S);     \
      break;                            \
    case 6:                             \
      r.S = dtxk_minimum_##S(a.S, b.S); \
      break;                            \
    case 7:                             \
      r.S = dtxk_maximum_##S(a.S, b.S); \
      break;                            \
    case 8:                             \
      r.b = dtxk_eq_##S(a.S, b.S);      \
      break;                            \
    case 9:                             \
      r.b = dtxk_ne_##S(a.S, b.S);      \
      break;                            \
    case 10:                            \
      r.b = dtxk_lt_##S(a.S, b.S);      \
      break;                            \
    case 11:                            \
      r.b = dtxk_le_##S(a.S, b.S);      \
      break;                            \
    case 12:                            \
      r.b = dtxk_gt_##S(a.S, b.S);      \
      break;                            \
    case 13:                            \
      r.b = dtxk_ge_##S(a.S, b.S);      \
      break;                            \
  }
  switch (dt) {
    case DTXK_BOOL:
      KB_ARITH(b) break;
    case DTXK_I32:
      KB_ARITH(i32) break;
    case DTXK_I64:
      KB_ARITH(i64) break;
    case DTXK_F32:
      KB_ARITH(f32) break;
    default:
      KB_ARITH(f64) break;
  }
#undef KB_ARITH
  return r;
}

__device__ static kval kwhere(int dt, kval c, kval a, kval b) { return c.b ? a : b; }

/* The offset of element i along the given strides (the padded dims). */
__device__ static int64_t koff(const int64_t *stride, const int64_t *i) {
  int64_t off = 0;
  for (int k = 0; k < DTXK_MAX_DIMS; k++) off += i[k] * stride[k];
  return off;
}

__device__ static kval keval(const kparams *P, const int64_t *i) {
  kval reg[DTXK_MAX_REGS];
  for (int k = 0; k < P->ninstr; k++) {
    const dtxk_instr in = P->ins[k];
    kval v;
    v.i64 = 0;
    switch (in.op) {
      case DTXK_I_LOAD: {
        const kleaf *l = &P->leaves[in.a];
        if (l->kind == 0) {
          kval f;
          f.f64 = l->fill;
          v = kcast(f, DTXK_F64, in.dtype);
        } else if (l->kind == DTXK_LEAF_GEN) {
          int64_t flat = l->flat0 + koff(l->stride, i);
          v = kcast(kgen(&l->gen, l->dtype, flat), l->dtype, in.dtype);
        } else {
          int64_t off = koff(l->stride, i);
          v = kcast(kload(l->ptr + off * dtxk_size(l->dtype), l->dtype), l->dtype, in.dtype);
        }
        break;
      }
      case DTXK_I_CONST:
        if (dtxk_is_float(in.dtype)) {
          kval f;
          f.f64 = P->consts[in.a].f;
          v = kcast(f, DTXK_F64, in.dtype);
        } else {
          kval f;
          f.i64 = P->consts[in.a].i;
          v = kcast(f, DTXK_I64, in.dtype);
        }
        break;
      case DTXK_I_CAST:
        v = kcast(reg[in.a], in.sub, in.dtype);
        break;
      case DTXK_I_UN:
        v = kunary(in.sub, in.dtype, reg[in.a]);
        break;
      case DTXK_I_BIN:
        v = kbinary(in.sub, in.dtype, reg[in.a], reg[in.b]);
        break;
      case DTXK_I_WHERE:
        v = kwhere(in.dtype, reg[in.a], reg[in.b], reg[in.c]);
        break;
    }
    reg[in.dst] = v;
  }
  return reg[P->result];
}

__global__ static void fused_kernel(const kparams P, int64_t total) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i[DTXK_MAX_DIMS], r = e;
    for (int k = DTXK_MAX_DIMS - 1; k >= 0; k--) {
      i[k] = r % P.ext[k];
      r /= P.ext[k];
    }
    kval v = kcast(keval(&P, i), P.rdtype, P.out_dtype);
    int64_t off = koff(P.ostride, i);
    kstore(P.out + off * dtxk_size(P.out_dtype), P.out_dtype, v);
  }
}

/* The padded region of a reduction: extents, first element, argmin/max
 * strides, and which padded dims are reduced. */
typedef struct rdims {
  int64_t ext[DTXK_MAX_DIMS], lo[DTXK_MAX_DIMS], as[DTXK_MAX_DIMS];
  int mask;
} rdims;

/* One block per slot: folds the slot's reduced elements of the region (acc
 * values, region C order) into one state, then writes it or its final value. */
__global__ static void reduce_kernel(const char *vals, const rdims D, int red, int acc, int finalize, int fin,
                                     int ddof, char *out, int64_t nslots) {
  __shared__ double shd[256 * 3];
  char *sh = (char *)shd;
  const int64_t *ext = D.ext, *lo = D.lo, *as = D.as;
  int red_mask = D.mask;
  int ssz = dtxk_state_size(red);
  for (int64_t s = blockIdx.x; s < nslots; s += gridDim.x) {
    /* the slot's kept coordinates */
    int64_t kept[DTXK_MAX_DIMS] = {0}, rem = s, nred = 1;
    for (int k = DTXK_MAX_DIMS - 1; k >= 0; k--) {
      if ((red_mask >> k) & 1) {
        nred *= ext[k];
        continue;
      }
      kept[k] = rem % ext[k];
      rem /= ext[k];
    }
    double st[3];
    dtxk_red_init(red, acc, st);
    for (int64_t j = threadIdx.x; j < nred; j += blockDim.x) {
      int64_t c[DTXK_MAX_DIMS], r2 = j, lin = 0, ix = 0;
      for (int k = DTXK_MAX_DIMS - 1; k >= 0; k--) {
        if ((red_mask >> k) & 1) {
          c[k] = r2 % ext[k];
          r2 /= ext[k];
        } else {
          c[k] = kept[k];
        }
      }
      for (int k = 0; k < DTXK_MAX_DIMS; k++) {
        lin = lin * ext[k] + c[k];
        ix += (lo[k] + c[k]) * as[k];
      }
      if (acc == DTXK_F64)
        dtxk_red_add_f(red, st, ((const double *)vals)[lin], ix);
      else
        dtxk_red_add_i(red, st, ((const int64_t *)vals)[lin], ix);
    }
    memcpy(sh + threadIdx.x * ssz, st, ssz);
    __syncthreads();
    for (unsigned w = blockDim.x / 2; w > 0; w /= 2) {
      if (threadIdx.x < w) dtxk_red_merge(red, acc, sh + threadIdx.x * ssz, sh + (threadIdx.x + w) * ssz);
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      if (finalize)
        dtxk_red_final(red, acc, fin, ddof, sh, out + s * dtxk_size(fin));
      else
        memcpy(out + s * ssz, sh, ssz);
    }
    __syncthreads();
  }
}

__global__ static void combine_kernel(const char *const *ins, int nin, int red, int acc, int finalize,
                                      int fin, int ddof, int64_t nslots, char *out) {
  int ssz = dtxk_state_size(red);
  for (int64_t s = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; s < nslots;
       s += (int64_t)gridDim.x * blockDim.x) {
    double st[3];
    dtxk_red_init(red, acc, st);
    for (int i = 0; i < nin; i++) dtxk_red_merge(red, acc, st, ins[i] + s * ssz);
    if (finalize)
      dtxk_red_final(red, acc, fin, ddof, st, out + s * dtxk_size(fin));
    else
      memcpy(out + s * ssz, st, ssz);
  }
}

/* ---- host side ---------------------------------------------------------------------------- */

static int blocks_for(int64_t n) {
  int64_t b = (n + 255) / 256;
  return (int)(b < 1 ? 1 : b > 4096 ? 4096 : b);
}

static int cuda_fail(dtx_task_ctx *ctx, const char *what, cudaError_t e) {
  return dtx_task_fail(ctx, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

static int64_t region_elems(const dtxk_prog *p, int kept_only) {
  int64_t n = 1;
  for (int k = 0; k < p->ndim; k++)
    if (!kept_only || !((p->red_mask >> k) & 1)) n *= p->hi[k] - p->lo[k];
  return n;
}

static int result_dtype(const dtxk_prog *p) {
  const dtxk_instr *ins = dtxk_prog_instr(p);
  for (int k = p->ninstr - 1; k >= 0; k--)
    if (ins[k].dst == p->result) {
      if (ins[k].op == DTXK_I_BIN && ins[k].sub >= 8) return DTXK_BOOL;
      return ins[k].dtype;
    }
  return p->out_dtype;
}

/* Runs p over its region into out (region C order, out_dtype elements). */
static int run_fused(dtx_task_ctx *ctx, const dtxk_prog *p, char *out, int out_dtype, cudaStream_t s) {
  if (p->nleaves > DTXK_MAX_LEAVES || p->ninstr > DTXK_MAX_INSTR || p->nconst > KMAX_CONST)
    return dtx_task_fail(ctx, "the fused program is too big for the CUDA kernel");
  int nin = dtx_task_num_inputs(ctx);
  const void **inputs = (const void **)calloc((size_t)(nin > 0 ? nin : 1), sizeof *inputs);
  kparams *P = (kparams *)calloc(1, sizeof *P);
  dtxk_rleaf *rl = (dtxk_rleaf *)calloc(DTXK_MAX_LEAVES, sizeof *rl);
  if (inputs == NULL || P == NULL || rl == NULL) {
    free(inputs);
    free(P);
    free(rl);
    return dtx_task_fail(ctx, "out of memory");
  }
  for (int i = 0; i < nin; i++) inputs[i] = dtx_task_input(ctx, i, NULL);
  P->ninstr = p->ninstr;
  P->nleaves = p->nleaves;
  P->result = p->result;
  P->rdtype = result_dtype(p);
  P->out_dtype = out_dtype;
  memcpy(P->ins, dtxk_prog_instr(p), (size_t)p->ninstr * sizeof(dtxk_instr));
  memcpy(P->consts, dtxk_prog_consts(p), (size_t)p->nconst * sizeof(dtxk_const));
  int pad = DTXK_MAX_DIMS - p->ndim;
  int64_t lo[DTXK_MAX_DIMS], rext[DTXK_MAX_DIMS], rs[DTXK_MAX_DIMS];
  for (int P8 = 0; P8 < DTXK_MAX_DIMS; P8++) {
    int k = P8 - pad;
    lo[P8] = k < 0 ? 0 : p->lo[k];
    rext[P8] = k < 0 ? 1 : p->hi[k] - p->lo[k];
  }
  int64_t acc = 1;
  for (int P8 = DTXK_MAX_DIMS - 1; P8 >= 0; P8--) {
    rs[P8] = acc;
    acc *= rext[P8];
  }
  dtxk_cuts cuts;
  if (dtxk_plan_cuts(p, &cuts)) {
    free(inputs);
    free(P);
    free(rl);
    return dtx_task_fail(ctx, "out of memory planning the task");
  }
  int rc = 0;
  int esz = dtxk_size(out_dtype);
  /* every sub-rectangle, in C order of the cut indices */
  int64_t nrect = 1;
  for (int k = 0; k < DTXK_MAX_DIMS; k++) nrect *= cuts.n[k] - 1;
  for (int64_t t = 0; t < nrect && rc == 0; t++) {
    int64_t st[DTXK_MAX_DIMS], ex[DTXK_MAX_DIMS], rest = t;
    for (int k = DTXK_MAX_DIMS - 1; k >= 0; k--) {
      int64_t c = rest % (cuts.n[k] - 1);
      rest /= cuts.n[k] - 1;
      st[k] = cuts.c[k][c];
      ex[k] = cuts.c[k][c + 1] - st[k];
    }
    const char *why = NULL;
    if (dtxk_resolve(p, inputs, nin, st, rl, &why)) {
      rc = dtx_task_fail(ctx, "%s", why);
      break;
    }
    int64_t total = 1, off = 0;
    for (int k = 0; k < DTXK_MAX_DIMS; k++) {
      P->ext[k] = ex[k];
      P->ostride[k] = rs[k];
      total *= ex[k];
      off += (st[k] - lo[k]) * rs[k];
    }
    if (total == 0) continue;
    for (int li = 0; li < p->nleaves; li++) {
      kleaf *kl = &P->leaves[li];
      kl->ptr = rl[li].ptr;
      memcpy(kl->stride, rl[li].stride, sizeof kl->stride);
      kl->kind = rl[li].kind;
      kl->dtype = rl[li].dtype;
      kl->fill = rl[li].fill;
      if (rl[li].gen != NULL) kl->gen = *rl[li].gen;
      kl->flat0 = rl[li].flat0;
    }
    P->out = out + off * esz;
    fused_kernel<<<blocks_for(total), 256, 0, s>>>(*P, total);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) rc = cuda_fail(ctx, "launching the fused kernel", e);
  }
  dtxk_cuts_free(&cuts);
  free(inputs);
  free(P);
  free(rl);
  return rc;
}

extern "C" int dtxk_fused_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_prog *p = (const dtxk_prog *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz < sizeof *p || dtxk_prog_size(p) != asz)
    return dtx_task_fail(ctx, "malformed fused-task arguments");
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  if (p->out_kind == DTXK_OUT_CHUNK) {
    int64_t n = region_elems(p, 0);
    char *out = (char *)dtx_task_output(ctx, (size_t)n * dtxk_size(p->out_dtype));
    if (out == NULL) return dtx_task_fail(ctx, "out of device memory for a %lld-element chunk", (long long)n);
    return run_fused(ctx, p, out, p->out_dtype, s);
  }
  if (p->out_kind != DTXK_OUT_REDUCE) return dtx_task_fail(ctx, "a GPU task cannot write host memory");
  /* values in the acc type, then one block per slot folds them */
  int64_t n = region_elems(p, 0), slots = region_elems(p, 1);
  void *vals = NULL;
  cudaError_t e = cudaMallocAsync(&vals, (size_t)n * 8, s);
  if (e != cudaSuccess) return cuda_fail(ctx, "allocating the reduction's values", e);
  int rc = run_fused(ctx, p, (char *)vals, p->acc, s);
  if (rc == 0) {
    size_t osz = (size_t)slots * (p->finalize ? dtxk_size(p->fin_dtype) : dtxk_state_size(p->red));
    char *out = (char *)dtx_task_output(ctx, osz);
    if (out == NULL) {
      rc = dtx_task_fail(ctx, "out of device memory for %lld reduction states", (long long)slots);
    } else {
      int pad = DTXK_MAX_DIMS - p->ndim;
      rdims D;
      memset(&D, 0, sizeof D);
      for (int P8 = 0; P8 < DTXK_MAX_DIMS; P8++) {
        int k = P8 - pad;
        D.ext[P8] = k < 0 ? 1 : p->hi[k] - p->lo[k];
        D.lo[P8] = k < 0 ? 0 : p->lo[k];
        D.as[P8] = k < 0 ? 0 : p->arg_stride[k];
        if (k >= 0 && ((p->red_mask >> k) & 1)) D.mask |= 1 << P8;
      }
      if (slots > 0)
        reduce_kernel<<<(int)(slots < 65535 ? slots : 65535), 256, 0, s>>>(
            (const char *)vals, D, p->red, p->acc, p->finalize, p->fin_dtype, p->ddof, out, slots);
      e = cudaGetLastError();
      if (e != cudaSuccess) rc = cuda_fail(ctx, "launching the reduction kernel", e);
    }
  }
  cudaFreeAsync(vals, s);
  return rc;
}

extern "C" int dtxk_combine_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_combine *c = (const dtxk_combine *)dtx_task_args(ctx, &asz);
  if (c == NULL || asz != sizeof *c) return dtx_task_fail(ctx, "malformed combine-task arguments");
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  int nin = dtx_task_num_inputs(ctx);
  size_t bytes = (size_t)c->nslots * dtxk_state_size(c->red);
  const char **host = (const char **)calloc((size_t)(nin > 0 ? nin : 1), sizeof *host);
  if (host == NULL) return dtx_task_fail(ctx, "out of memory");
  for (int i = 0; i < nin; i++) {
    size_t n = 0;
    host[i] = (const char *)dtx_task_input(ctx, i, &n);
    if (n != bytes) {
      free(host);
      return dtx_task_fail(ctx, "input %d holds %zu bytes of partial states, expected %zu", i, n, bytes);
    }
  }
  size_t osz = c->finalize ? (size_t)c->nslots * dtxk_size(c->fin_dtype) : bytes;
  char *out = (char *)dtx_task_output(ctx, osz);
  if (out == NULL) {
    free(host);
    return dtx_task_fail(ctx, "out of device memory");
  }
  const char **dev = NULL;
  cudaError_t e = cudaMallocAsync((void **)&dev, (size_t)(nin > 0 ? nin : 1) * sizeof *dev, s);
  if (e == cudaSuccess) e = cudaMemcpyAsync(dev, host, (size_t)nin * sizeof *dev, cudaMemcpyHostToDevice, s);
  if (e == cudaSuccess) {
    combine_kernel<<<blocks_for(c->nslots), 256, 0, s>>>(dev, nin, c->red, c->acc, c->finalize, c->fin_dtype,
                                                         c->ddof, c->nslots, out);
    e = cudaGetLastError();
  }
  /* the copy from pageable memory is staged before cudaMemcpyAsync returns */
  if (dev != NULL) cudaFreeAsync(dev, s);
  free(host);
  return e == cudaSuccess ? 0 : cuda_fail(ctx, "combining partial states", e);
}

extern "C" int dtxk_load_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_prog *p = (const dtxk_prog *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz < sizeof *p || dtxk_prog_size(p) != asz)
    return dtx_task_fail(ctx, "malformed load-task arguments");
  const dtxk_leaf *l = dtxk_prog_leaves(p);
  if (p->nleaves != 1 || l->kind != DTXK_LEAF_EXT || p->out_kind != DTXK_OUT_CHUNK ||
      l->dtype != p->out_dtype)
    return dtx_task_fail(ctx, "a load task reads one host array into a chunk");
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  int nd = p->ndim, esz = dtxk_size(l->dtype);
  int64_t n = region_elems(p, 0);
  char *out = (char *)dtx_task_output(ctx, (size_t)n * esz);
  if (out == NULL) return dtx_task_fail(ctx, "out of device memory for a %lld-element chunk", (long long)n);
  const char *base = (const char *)(uintptr_t)l->ext;
  enum { D = DTXK_MAX_DIMS, DR = DTXK_DR, DC = DTXK_DC };
  int64_t ext[D], st[D];
  int64_t off = 0;
  for (int k = 0; k < D; k++) {
    ext[k] = 1;
    st[k] = 0;
  }
  for (int k = 0; k < nd; k++) {
    ext[D - nd + k] = p->hi[k] - p->lo[k];
    st[D - nd + k] = l->estride[k];
    off += p->lo[k] * l->estride[k];
  }
  cudaError_t e = cudaSuccess;
  if (n == 0) return 0;
  /* the planes before the rows, in C order */
  int64_t nplanes = 1, pl[D] = {0};
  for (int k = 0; k < DR; k++) nplanes *= ext[k];
  if (st[DC] != 1 && ext[DC] > 1) {
    /* gather on the host, then one copy (staged before the call returns) */
    char *tmp = (char *)malloc((size_t)n * esz);
    if (tmp == NULL) return dtx_task_fail(ctx, "out of memory");
    int64_t q = 0;
    for (int64_t t = 0; t < nplanes; t++) {
      int64_t po = off;
      for (int k = 0; k < DR; k++) po += pl[k] * st[k];
      for (int64_t c = 0; c < ext[DR]; c++)
        for (int64_t d = 0; d < ext[DC]; d++, q++)
          memcpy(tmp + q * esz, base + (po + c * st[DR] + d * st[DC]) * esz, (size_t)esz);
      for (int k = DR - 1; k >= 0 && ++pl[k] == ext[k]; k--) pl[k] = 0;
    }
    e = cudaMemcpyAsync(out, tmp, (size_t)n * esz, cudaMemcpyHostToDevice, s);
    free(tmp);
  } else {
    int64_t q = 0;
    for (int64_t t = 0; t < nplanes && e == cudaSuccess; t++) {
      int64_t po = off;
      for (int k = 0; k < DR; k++) po += pl[k] * st[k];
      e = cudaMemcpy2DAsync(out + q * esz, (size_t)(ext[DC] * esz), base + po * esz,
                            (size_t)((ext[DR] > 1 ? st[DR] : ext[DC]) * esz), (size_t)(ext[DC] * esz),
                            (size_t)ext[DR], cudaMemcpyHostToDevice, s);
      q += ext[DR] * ext[DC];
      for (int k = DR - 1; k >= 0 && ++pl[k] == ext[k]; k--) pl[k] = 0;
    }
  }
  return e == cudaSuccess ? 0 : cuda_fail(ctx, "copying host data to the GPU", e);
}

/* ---- matrix products: cuBLAS through dlopen --------------------------------------------------- */

typedef int (*cublas_create_t)(void **);
typedef int (*cublas_set_stream_t)(void *, cudaStream_t);
typedef int (*cublas_dgemm_t)(void *, int, int, int, int, int, const double *, const double *, int,
                              const double *, int, const double *, double *, int);
typedef int (*cublas_sgemm_t)(void *, int, int, int, int, int, const float *, const float *, int,
                              const float *, int, const float *, float *, int);

static struct {
  pthread_once_t once;
  void *lib;
  cublas_create_t create;
  cublas_set_stream_t set_stream;
  cublas_dgemm_t dgemm;
  cublas_sgemm_t sgemm;
  char why[256];
  pthread_mutex_t mu;
  void *handle[64];
} cublas = {PTHREAD_ONCE_INIT, NULL, NULL, NULL, NULL, NULL, "", PTHREAD_MUTEX_INITIALIZER, {NULL}};

static void cublas_open(void) {
  char name[64];
  snprintf(name, sizeof name, "libcublas.so.%d", CUDART_VERSION / 1000);
  const char *names[] = {name, "libcublas.so"};
  for (int i = 0; i < 2 && cublas.lib == NULL; i++) cublas.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (cublas.lib == NULL) {
    snprintf(cublas.why, sizeof cublas.why,
             "cuBLAS could not be opened (%s): install the CUDA toolkit's libcublas", name);
    return;
  }
  cublas.create = (cublas_create_t)dlsym(cublas.lib, "cublasCreate_v2");
  cublas.set_stream = (cublas_set_stream_t)dlsym(cublas.lib, "cublasSetStream_v2");
  cublas.dgemm = (cublas_dgemm_t)dlsym(cublas.lib, "cublasDgemm_v2");
  cublas.sgemm = (cublas_sgemm_t)dlsym(cublas.lib, "cublasSgemm_v2");
  if (cublas.create == NULL || cublas.set_stream == NULL || cublas.dgemm == NULL || cublas.sgemm == NULL)
    snprintf(cublas.why, sizeof cublas.why, "%s lacks cublasCreate_v2 / cublasSetStream_v2 / cublasDgemm_v2",
             name);
}

enum { CUBLAS_OP_N_ = 0, CUBLAS_OP_T_ = 1 };

#define INT_MM(T, NAME, ACC)                                                                              \
  __global__ static void NAME(T *C, const T *A, const T *B, int64_t m, int64_t n, int64_t k, int64_t ars, \
                              int64_t acs, int64_t brs, int64_t bcs) {                                    \
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < m * n;                           \
         e += (int64_t)gridDim.x * blockDim.x) {                                                          \
      int64_t i = e / n, j = e % n;                                                                       \
      T s = C[e];                                                                                         \
      for (int64_t p = 0; p < k; p++) {                                                                   \
        T a = A[i * ars + p * acs], b = B[p * brs + j * bcs];                                             \
        s = ACC;                                                                                          \
      }                                                                                                   \
      C[e] = s;                                                                                           \
    }                                                                                                     \
  }
INT_MM(int64_t, mm_i64, (int64_t)((uint64_t)s + (uint64_t)a * (uint64_t)b))
INT_MM(int32_t, mm_i32, (int32_t)((uint32_t)s + (uint32_t)a * (uint32_t)b))
INT_MM(dtxk_b, mm_b, (dtxk_b)(s | (a & b)))
INT_MM(double, mm_f64, s + a * b)
INT_MM(float, mm_f32, s + a * b)

extern "C" int dtxk_matmul_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_matmul *mm = (const dtxk_matmul *)dtx_task_args(ctx, &asz);
  if (mm == NULL || asz != sizeof *mm + (size_t)mm->nk * sizeof(dtxk_mstep))
    return dtx_task_fail(ctx, "malformed matmul-task arguments");
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  int dev = dtx_task_device(ctx), esz = dtxk_size(mm->dtype);
  int64_t m = mm->m, n = mm->n;
  char *C = (char *)dtx_task_output(ctx, (size_t)(m * n * esz));
  if (C == NULL)
    return dtx_task_fail(ctx, "out of device memory for a %lldx%lld chunk", (long long)m, (long long)n);
  cudaError_t e = cudaMemsetAsync(C, 0, (size_t)(m * n * esz), s);
  if (e != cudaSuccess) return cuda_fail(ctx, "clearing the output", e);
  int blas = mm->dtype == DTXK_F64 || mm->dtype == DTXK_F32;
  void *h = NULL;
  if (blas) {
    pthread_once(&cublas.once, cublas_open);
    if (cublas.why[0] == '\0' && dev >= 0 && dev < 64) {
      pthread_mutex_lock(&cublas.mu);
      if (cublas.handle[dev] == NULL) {
        int cur = 0;
        cudaGetDevice(&cur);
        cudaSetDevice(dev);
        if (cublas.create(&cublas.handle[dev]) != 0) cublas.handle[dev] = NULL;
        cudaSetDevice(cur);
      }
      h = cublas.handle[dev];
      if (h == NULL) pthread_mutex_unlock(&cublas.mu);
    }
    if (h == NULL) blas = 0; /* the plain kernel below */
  }
  const dtxk_mstep *st = dtxk_matmul_steps(mm);
  int rc = 0;
  for (int q = 0; q < mm->nk && rc == 0; q++) {
    int64_t k = st[q].k;
    const char *A = (const char *)dtx_task_input(ctx, st[q].a.input, NULL);
    const char *B = (const char *)dtx_task_input(ctx, st[q].b.input, NULL);
    if (A == NULL || B == NULL || st[q].a.input < 0 || st[q].b.input < 0) {
      rc = dtx_task_fail(ctx, "an operand chunk is missing (host operands are not read on GPUs)");
      break;
    }
    int64_t ars = st[q].a.rs, acs = st[q].a.cs, brs = st[q].b.rs, bcs = st[q].b.cs;
    if (blas && acs == 1 && bcs == 1 && ars >= k && brs >= n) {
      /* row-major C = A B is column-major C^T = B^T A^T */
      cublas.set_stream(h, s);
      int st2;
      if (mm->dtype == DTXK_F64) {
        double one = 1.0;
        st2 = cublas.dgemm(h, CUBLAS_OP_N_, CUBLAS_OP_N_, (int)n, (int)m, (int)k, &one, (const double *)B,
                           (int)brs, (const double *)A, (int)ars, &one, (double *)C, (int)n);
      } else {
        float one = 1.0f;
        st2 = cublas.sgemm(h, CUBLAS_OP_N_, CUBLAS_OP_N_, (int)n, (int)m, (int)k, &one, (const float *)B,
                           (int)brs, (const float *)A, (int)ars, &one, (float *)C, (int)n);
      }
      if (st2 != 0) rc = dtx_task_fail(ctx, "cuBLAS gemm failed with status %d", st2);
      continue;
    }
    int g = blocks_for(m * n);
    switch (mm->dtype) {
      case DTXK_F64:
        mm_f64<<<g, 256, 0, s>>>((double *)C, (const double *)A, (const double *)B, m, n, k, ars, acs, brs,
                                 bcs);
        break;
      case DTXK_F32:
        mm_f32<<<g, 256, 0, s>>>((float *)C, (const float *)A, (const float *)B, m, n, k, ars, acs, brs, bcs);
        break;
      case DTXK_I64:
        mm_i64<<<g, 256, 0, s>>>((int64_t *)C, (const int64_t *)A, (const int64_t *)B, m, n, k, ars, acs, brs,
                                 bcs);
        break;
      case DTXK_I32:
        mm_i32<<<g, 256, 0, s>>>((int32_t *)C, (const int32_t *)A, (const int32_t *)B, m, n, k, ars, acs, brs,
                                 bcs);
        break;
      default:
        mm_b<<<g, 256, 0, s>>>((dtxk_b *)C, (const dtxk_b *)A, (const dtxk_b *)B, m, n, k, ars, acs, brs,
                               bcs);
        break;
    }
    e = cudaGetLastError();
    if (e != cudaSuccess) rc = cuda_fail(ctx, "launching the product kernel", e);
  }
  if (h != NULL) pthread_mutex_unlock(&cublas.mu);
  return rc;
}
