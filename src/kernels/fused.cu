/*
 * kernels/fused.cu - the CUDA implementations of the array tasks: fused
 * programs (elementwise chunks and the first stage of reductions), combine
 * tasks and loads of host data.
 *
 * Each implementation runs on the dispatching thread: it reads its argument
 * blob (kernels/program.h), plans the sub-rectangles on the host with the
 * same code the CPU kernels use (kernels/plan.c), and enqueues kernels on the
 * task's stream (dtx_task_stream); it never waits for the GPU. Device kernels
 * evaluate the program per element with the element functions of
 * kernels/elem.h and kernels/reduce.h, the very ones the CPU loops call.
 * Matrix products are in kernels/matmul.cu.
 */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/kernels.h"
#include "kernels/program.h"
#include "kernels/reduce.h"

/* ---- per-element evaluation ------------------------------------------------------------ */

typedef union kval {
#define KV_FIELD(S, T, ID) T S;
  DTXK_TYPES(KV_FIELD)
#undef KV_FIELD
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
#define KL(S, T, ID)     \
  case ID:               \
    v.S = *(const T *)p; \
    break;
    DTXK_TYPES(KL)
#undef KL
  }
  return v;
}

__device__ static void kstore(char *p, int dt, kval v) {
  switch (dt) {
#define KS(S, T, ID) \
  case ID:           \
    *(T *)p = v.S;   \
    break;
    DTXK_TYPES(KS)
#undef KS
  }
}

/* v (of dtype from) as dtype to: one function per source type, whose
 * value is loaded (float16 as float32) and converted by the macros of elem.h. */
#define KC_TO(TS, TT, TID)       \
  case TID:                      \
    r.TS = DTXK_CV_##TS(lx, sf); \
    break;
#define KC_FROM(S, T)                                  \
  __device__ static kval kcast_from_##S(T x, int to) { \
    kval r;                                            \
    r.i64 = 0;                                         \
    const auto lx = DTXK_LD_##S(x);                    \
    const int sf = DTXK_SF_##S;                        \
    switch (to) { DTXK_TYPES(KC_TO) }                  \
    return r;                                          \
  }
KC_FROM(b, dtxk_b)
KC_FROM(i32, int32_t)
KC_FROM(i64, int64_t)
KC_FROM(f32, float)
KC_FROM(f64, double)
KC_FROM(i8, int8_t)
KC_FROM(i16, int16_t)
KC_FROM(u8, uint8_t)
KC_FROM(u16, uint16_t)
KC_FROM(u32, uint32_t)
KC_FROM(u64, uint64_t)
KC_FROM(f16, dtxk_f16)
#undef KC_FROM
#undef KC_TO

__device__ static kval kcast(kval v, int from, int to) {
  switch (from) {
#define KC_CASE(S, T, ID) \
  case ID:                \
    return kcast_from_##S(v.S, to);
    DTXK_TYPES(KC_CASE)
#undef KC_CASE
  }
  return v;
}

__device__ static kval kgen(const dtxk_gen *g, int gt, int64_t flat) {
  kval r;
  r.i64 = 0;
  if (gt == DTXK_BOOL) {
    r.b = dtxk_gen_f64(g, flat, gt) != 0;
  } else if (dtxk_is_float(gt)) {
    r.f64 = dtxk_gen_f64(g, flat, gt);
    r = kcast(r, DTXK_F64, gt);
  } else {
    r.i64 = dtxk_gen_i64(g, flat);
    r = kcast(r, DTXK_I64, gt);
  }
  return r;
}

__device__ static kval kunary(int op, int dt, kval a) {
  kval r = a;
  if (DTXK_UN_IS_BOOL(op)) {
    r.i64 = 0;
    switch (dt) {
#define KUC(S, T, ID)                                                                              \
  case ID:                                                                                         \
    r.b = op == 9 ? dtxk_isnan_##S(a.S) : op == 10 ? dtxk_isinf_##S(a.S) : dtxk_isfinite_##S(a.S); \
    break;
      DTXK_TYPES(KUC)
#undef KUC
    }
    return r;
  }
  switch (dt) {
#define KUF(S, T, ID)             \
  case ID:                        \
    switch (op) {                 \
      case 1:                     \
        r.S = dtxk_neg_##S(a.S);  \
        break;                    \
      case 2:                     \
        r.S = dtxk_abs_##S(a.S);  \
        break;                    \
      case 3:                     \
        r.S = dtxk_exp_##S(a.S);  \
        break;                    \
      case 4:                     \
        r.S = dtxk_log_##S(a.S);  \
        break;                    \
      case 5:                     \
        r.S = dtxk_sqrt_##S(a.S); \
        break;                    \
      case 6:                     \
        r.S = dtxk_sin_##S(a.S);  \
        break;                    \
      case 7:                     \
        r.S = dtxk_cos_##S(a.S);  \
        break;                    \
      case 8:                     \
        r.S = dtxk_tanh_##S(a.S); \
        break;                    \
      case 12:                    \
        r.S = dtxk_rint_##S(a.S); \
        break;                    \
    }                             \
    break;
#define KUI(S, T, ID)                                      \
  case ID:                                                 \
    r.S = op == 1 ? dtxk_neg_##S(a.S) : dtxk_abs_##S(a.S); \
    break;
    KUF(f64, double, DTXK_F64)
    KUF(f32, float, DTXK_F32)
    KUF(f16, dtxk_f16, DTXK_F16)
    KUI(i8, int8_t, DTXK_I8)
    KUI(i16, int16_t, DTXK_I16)
    KUI(i32, int32_t, DTXK_I32)
    KUI(i64, int64_t, DTXK_I64)
    KUI(u8, uint8_t, DTXK_U8)
    KUI(u16, uint16_t, DTXK_U16)
    KUI(u32, uint32_t, DTXK_U32)
    KUI(u64, uint64_t, DTXK_U64)
#undef KUF
#undef KUI
    default:
      break;
  }
  return r;
}

__device__ static kval kbinary(int op, int dt, kval a, kval b) {
  kval r;
  r.i64 = 0;
#define KB_ARITH(S)                          \
  switch (op) {                              \
    case 1:                                  \
      r.S = dtxk_add_##S(a.S, b.S);          \
      break;                                 \
    case 2:                                  \
      r.S = dtxk_sub_##S(a.S, b.S);          \
      break;                                 \
    case 3:                                  \
      r.S = dtxk_mul_##S(a.S, b.S);          \
      break;                                 \
    case 4:                                  \
      r.S = dtxk_div_##S(a.S, b.S);          \
      break;                                 \
    case 5:                                  \
      r.S = dtxk_pow_##S(a.S, b.S);          \
      break;                                 \
    case 6:                                  \
      r.S = dtxk_minimum_##S(a.S, b.S);      \
      break;                                 \
    case 7:                                  \
      r.S = dtxk_maximum_##S(a.S, b.S);      \
      break;                                 \
    case 8:                                  \
      r.b = dtxk_eq_##S(a.S, b.S);           \
      break;                                 \
    case 9:                                  \
      r.b = dtxk_ne_##S(a.S, b.S);           \
      break;                                 \
    case 10:                                 \
      r.b = dtxk_lt_##S(a.S, b.S);           \
      break;                                 \
    case 11:                                 \
      r.b = dtxk_le_##S(a.S, b.S);           \
      break;                                 \
    case 12:                                 \
      r.b = dtxk_gt_##S(a.S, b.S);           \
      break;                                 \
    case 13:                                 \
      r.b = dtxk_ge_##S(a.S, b.S);           \
      break;                                 \
    case 14:                                 \
      r.S = dtxk_floor_divide_##S(a.S, b.S); \
      break;                                 \
    case 15:                                 \
      r.S = dtxk_mod_##S(a.S, b.S);          \
      break;                                 \
  }
  switch (dt) {
#define KB_CASE(S, T, ID) \
  case ID:                \
    KB_ARITH(S) break;
    DTXK_TYPES(KB_CASE)
#undef KB_CASE
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
      else if (acc == DTXK_U64)
        dtxk_red_add_i(red, st, dtxk_acc_flip(((const int64_t *)vals)[lin]), ix);
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
    if (ins[k].dst == p->result) return dtxk_instr_dtype(&ins[k]);
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
