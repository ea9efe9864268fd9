#!/usr/bin/env python3
"""tests/array_conformance/gen.py - NumPy's answers for the dtx array conformance test.

Writes cases for driver.cc into --out: the inputs as .npy files and a manifest
(cases.txt) holding, per case, an expression in a small prefix language that
both sides read, and what NumPy 2 makes of it: the dtype, shape and values
(floats as exact hex, with a tolerance), or the exception it raises. The
random cases come from --seed (printed); the named cases check the items of
issue 11 one by one (Python scalars weak only as direct operands, Python ints
int32 does not hold, negative integer powers, dot dtypes, slice steps near
2**63, the dtype of a compute buffer, float32 reductions).

The expression language (one node per parenthesis):
  (in K)  (int V)  (float V)  (full DTYPE VALUE SHAPE)
  (neg|abs|exp|log|sqrt|sin|cos|tanh|isnan|isinf|isfinite|rint X)
  (add|sub|mul|div|pow|minimum|maximum|eq|ne|lt|le|gt|ge|floor_divide|mod X Y)
  (where C X Y)  (astype X DTYPE)  (clip X LO HI)  (round X DECIMALS)  (persist X)
  (reduce NAME X AXES KEEPDIMS DDOF)   AXES: all, or 0,2; NAME also nansum .. nanargmax
  (cum NAME X AXIS)   NAME: cumsum, cumprod, nancumsum, nancumprod (dtx/scan.h)
  (sort X AXIS)  (topk X K AXIS)  (argtopk X K AXIS)   (dtx/sort.h; topk's oracle:
            NumPy's sort, ties to the smaller index, as dtx documents)
  (dot X Y)  (matmul X Y)  (tensordot X Y AXES_A AXES_B)   AXES: -, or 0,1
  (slice X SPEC)   SPEC: entries joined by ',': start:stop:step (parts may be
                   empty), an integer, or new
  (transpose X PERM)  (concat X Y AXIS)
  (qr_r X)  R of X's QR with signs made positive on the diagonal (R is unique
            up to those);  (svd_s X)  singular values;  (solve X Y)  (inv X)
  (cholesky X)  (norm X ORD AXES KEEPDIMS)   ORD: none, fro, nuc, inf, -inf
            or a number; AXES: all, or 0,1
  (take X IDX AXIS)  IDX: -, or 3,-1,3   (take_array X I AXIS)  I an integer array
  (mask X M)  X[M], M bool     (unique X)   (dtx/index.h; index_cases.py)
  (unique_values X), unique_index, unique_inverse, unique_counts: dtx_unique_all's outputs
  AXIS none: DTX_NO_AXIS (take from the flattened array)
  (real X)  (imag X)  (conj X)  (complex X Y)  (cscalar RE IM)   complex arrays
            (dtx/complex.h), (cscalar RE IM) a Python complex
  (fft NAME X N AXIS NORM)   NAME: fft, ifft, rfft, irfft; N 0 for None;
            NORM: backward, ortho, forward
  (fftn NAME X S AXES NORM)  NAME: fftn, ifftn, rfftn, irfftn, fft2, ifft2;
            S, AXES: - for None, or 4,5
(int V) and (float V) are Python scalars: dtx_scalar_int and dtx_scalar.

Where dtx documents a deviation from NumPy (dtx/array.h), a random case
falling into it is dropped (counted and printed), or, for float32 reductions,
expects the documented value (the float64 reduction rounded to float32).
"""
import argparse
import math
import os
import random
import sys
import warnings

import numpy as np

import complex_cases  # beside this file
import dtype_cases
import index_cases

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
          "float64"]
UNARY = ["neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "isnan", "isinf", "isfinite", "rint"]
TRANSC = {"exp", "log", "sqrt", "sin", "cos", "tanh"}
BINARY = ["add", "sub", "mul", "div", "pow", "minimum", "maximum", "eq", "ne", "lt", "le", "gt", "ge",
          "floor_divide", "mod"]
CMP = {"eq", "ne", "lt", "le", "gt", "ge"}
REDS = ["sum", "prod", "mean", "min", "max", "var", "std", "argmin", "argmax", "any", "all"]
NPU = {"neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin,
       "cos": np.cos, "tanh": np.tanh, "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
       "rint": np.rint}
NPB = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "pow": np.power,
       "minimum": np.minimum, "maximum": np.maximum, "eq": np.equal, "ne": np.not_equal, "lt": np.less,
       "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal, "floor_divide": np.floor_divide,
       "mod": np.mod}
MAX_DIMS = 8
COMPLEX = ["complex64", "complex128"]  # named cases only (complex_cases.py): few operations take them
FFTS = {"fft": np.fft.fft, "ifft": np.fft.ifft, "rfft": np.fft.rfft, "irfft": np.fft.irfft}
FFTNS = {"fftn": np.fft.fftn, "ifftn": np.fft.ifftn, "rfftn": np.fft.rfftn, "irfftn": np.fft.irfftn,
         "fft2": np.fft.fft2, "ifft2": np.fft.ifft2}
LINALG = {"qr_r", "svd_s", "solve", "inv", "cholesky", "norm"}


class Skip(Exception):
    """The case is outside what dtx promises to share with NumPy (the reason says which)."""


class NumpyError(Exception):
    """NumPy raised while evaluating node."""

    def __init__(self, node, exc):
        super().__init__(str(exc))
        self.node, self.exc = node, exc


def is_float(dt):
    return dt is not None and np.dtype(dt).kind == "f"


def is_py(v):
    """Whether v is a Python scalar (np.float64 is a float subclass: not one)."""
    return type(v) in (int, float, complex)


def is_complex(dt):
    return dt is not None and np.dtype(dt).kind == "c"


def dtype_of(v):
    """The dtype of a value, None for a Python scalar."""
    return None if is_py(v) else np.asarray(v).dtype


class Node:
    """An expression node: op, children, parameters; eval() fills val, inexact and scale."""

    def __init__(self, op, kids=(), **p):
        self.op, self.kids, self.p = op, list(kids), p
        self.val = None
        self.inexact = False  # values may differ by rounding between implementations
        self.low = False  # a float32 value took part
        self.half = False  # a float16 value took part
        self.scale = 1.0  # the largest finite float magnitude on the way (tolerances)
        self.nred = 1  # the most terms added by one reduction or product on the way

    def text(self):
        p, op = self.p, self.op
        if op == "in":
            return f"(in {p['k']})"
        if op == "int":
            return f"(int {p['v']})"
        if op == "float":
            return f"(float {float(p['v']).hex()})"
        if op == "full":
            return f"(full {p['dt']} {float(p['v']).hex()} {','.join(map(str, p['shape'])) or '-'})"
        ks = " ".join(k.text() for k in self.kids)
        if op == "astype":
            return f"(astype {ks} {p['dt']})"
        if op == "clip":
            return f"(clip {ks} {float(p['lo']).hex()} {float(p['hi']).hex()})"
        if op == "round":
            return f"(round {ks} {p['d']})"
        if op == "reduce":
            ax = "all" if p["axes"] is None else ",".join(map(str, p["axes"]))
            return f"(reduce {p['name']} {ks} {ax} {int(p['keepdims'])} {p['ddof']})"
        if op == "cum":
            return f"(cum {p['name']} {ks} {p['axis']})"
        if op == "sort":
            return f"(sort {ks} {p['axis']})"
        if op in ("topk", "argtopk"):
            return f"({op} {ks} {p['k']} {p['axis']})"
        if op == "tensordot":
            a = ",".join(map(str, p["aa"])) or "-"
            b = ",".join(map(str, p["ab"])) or "-"
            return f"(tensordot {ks} {a} {b})"
        if op == "slice":
            return f"(slice {ks} {p['spec']})"
        if op == "transpose":
            return f"(transpose {ks} {','.join(map(str, p['perm'])) or '-'})"
        if op == "concat":
            return f"(concat {ks} {p['axis']})"
        if op == "take":
            return f"(take {ks} {','.join(map(str, p['idx'])) or '-'} {'none' if p['axis'] is None else p['axis']})"
        if op == "take_array":
            return f"(take_array {ks} {'none' if p['axis'] is None else p['axis']})"
        if op == "norm":
            ax = "all" if p["axes"] is None else ",".join(map(str, p["axes"]))
            return f"(norm {ks} {p['ord']} {ax} {int(p['keepdims'])})"
        if op == "cscalar":
            return f"(cscalar {float(p['v'].real).hex()} {float(p['v'].imag).hex()})"
        if op == "fft":
            return f"(fft {p['name']} {ks} {p['n'] or 0} {p['axis']} {p['norm']})"
        if op == "fftn":
            s = ",".join(map(str, p["s"])) if p["s"] is not None else "-"
            ax = ",".join(map(str, p["axes"])) if p["axes"] is not None else "-"
            return f"(fftn {p['name']} {ks} {s} {ax} {p['norm']})"
        return f"({op} {ks})"

    def eval(self, inputs):
        for k in self.kids:
            k.eval(inputs)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    v = self.compute(inputs)
        except (Skip, NumpyError):
            raise
        except (OverflowError, ValueError, TypeError, IndexError) as e:
            raise NumpyError(self, e) from e
        if self.op not in ("int", "float", "cscalar"):
            if is_py(v):
                raise Skip(f"{self.op} gave a Python scalar")
            dt = np.asarray(v).dtype
            if dt.name not in DTYPES + COMPLEX:
                raise Skip(f"dtype {dt.name} is not a dtx dtype")
            if np.ndim(v) > MAX_DIMS:
                raise Skip(f"more than {MAX_DIMS} dimensions")
        self.val = v
        kids = self.kids
        self.inexact = self.inexact or any(k.inexact for k in kids)
        self.low = any(k.low for k in kids) or dtype_of(v) in (np.float32, np.complex64)
        self.half = any(k.half for k in kids) or dtype_of(v) == np.float16
        self.nred = max([self.nred] + [k.nred for k in kids])
        parts = np.concatenate([np.ravel(np.real(v)), np.ravel(np.imag(v))]) if is_complex(dtype_of(v)) else v
        fl = [abs(float(x)) for x in np.ravel(np.asarray(parts, dtype=np.float64)) if math.isfinite(x)] \
            if is_float(dtype_of(v)) or is_complex(dtype_of(v)) or type(v) is float else []
        self.scale = max([1.0] + fl + [k.scale for k in kids])
        if self.inexact and is_float(dtype_of(v)):
            lim = {np.float16: 1e4, np.float32: 1e37}.get(dtype_of(v).type, 1e300)
            if self.scale > lim:
                raise Skip("inexact values near the float range's end")

    def compute(self, inputs):
        p, op, kv = self.p, self.op, [k.val for k in self.kids]
        if op == "in":
            return inputs[p["k"]]
        if op in ("int", "float", "cscalar"):
            return p["v"]
        if op in ("real", "imag", "conj", "complex", "fft", "fftn"):
            return self.complex_op(kv)
        if op == "full":
            return np.full(tuple(p["shape"]), p["v"], dtype=p["dt"])
        if any(is_complex(dtype_of(x)) or type(x) is complex for x in kv) and op in ("abs", "mul", "div"):
            self.inexact = True  # complex products and |z|: roundings may differ (dtx/complex.h)
        if op in NPU:
            if op in TRANSC:
                self.inexact = True
            if op in ("rint", "isinf", "isfinite"):
                self.guard_steps(op, kv[0], 0)
            return NPU[op](kv[0])
        if op in NPB:
            x, y = kv
            if op in CMP:
                self.guard_cmp(x, y)
            if op in ("floor_divide", "mod"):
                self.guard_divmod(x, y)
            try:
                r = NPB[op](x, y)
            except ValueError as e:
                # int ** negative int: dtx refuses it only for an exponent known when building
                if "negative integer powers" in str(e) and not is_const(self.kids[1]):
                    raise Skip("a negative integer exponent computed by tasks (documented: not checked)")
                raise
            if op == "pow" and (is_float(dtype_of(r)) or is_complex(dtype_of(r))):
                self.inexact = True
            return r
        if op == "where":
            c, x, y = kv
            self.guard_truth(self.kids[0], c)
            return np.where(c, x, y)
        if op == "astype":
            x = np.asarray(kv[0])
            dt = np.dtype(p["dt"])
            if x.dtype.kind == "f" and dt.kind in "iu":
                t, lim = np.trunc(x.astype(np.float64)), 2.0 ** (8 * dt.itemsize - 1)  # exact in float64
                lo, hi = (0.0, 2 * lim) if dt.kind == "u" else (-lim, lim)
                bad = ~np.isfinite(t) | (t < lo) | (t >= hi)
                if bad.any():
                    raise Skip("float to int of a value the int does not hold (dtx saturates, documented)")
                if self.kids[0].inexact:
                    frac = np.abs(x - np.round(x))
                    if (frac <= 1e-3 * np.maximum(1.0, np.abs(x))).any():
                        raise Skip("float to int of an inexact value near an integer")
            if x.dtype.kind == "f" and dt.kind == "b":
                self.guard_truth(self.kids[0], x)
            return x.astype(dt)
        if op == "clip":
            return np.clip(kv[0], float(p["lo"]), float(p["hi"]))
        if op == "round":
            self.guard_steps(op, kv[0], p["d"])
            if round_leaves_range(kv[0], p["d"]):
                raise Skip("round of integers past the dtype's range (NumPy's cast is undefined there)")
            return np.round(kv[0], p["d"])  # exact: dtx rounds each step in the dtype, as NumPy
        if op == "persist":
            return np.asarray(kv[0])
        if op == "reduce":
            return self.reduce(kv[0])
        if op == "sort":
            return np.sort(kv[0], axis=p["axis"])
        if op in ("topk", "argtopk"):
            return topk(kv[0], p["k"], p["axis"], op == "argtopk")
        if op == "cum":
            r = getattr(np, p["name"])(kv[0], axis=p["axis"])
            if r.dtype.kind in "fc":
                self.inexact = True
                self.nred = max(self.nred, int(np.shape(kv[0])[p["axis"]]))
            return r
        if op in ("dot", "matmul", "tensordot"):
            x, y = kv
            if any(dtype_of(v) is not None and dtype_of(v).kind == "f" and not np.isfinite(v).all() for v in kv):
                raise Skip("a product of inf or nan (a BLAS may skip zeros: inf * 0 is 0 or nan)")
            if op == "dot":
                r = np.dot(x, y)
            elif op == "matmul":
                r = np.matmul(x, y)
            else:
                r = np.tensordot(x, y, axes=(p["aa"], p["ab"]))
            if is_float(dtype_of(r)) or is_complex(dtype_of(r)):
                self.inexact = True
            if np.ndim(x) > 0 and np.ndim(y) > 0:
                self.nred = max(self.nred, int(np.shape(x)[-1]) if op != "tensordot" else
                                int(np.prod([np.shape(x)[a] for a in p["aa"]] or [1])))
            return r
        if op == "slice":
            return np.asarray(kv[0])[parse_spec(p["spec"])]
        if op == "transpose":
            return np.transpose(kv[0], p["perm"] or None)
        if op == "concat":
            return np.concatenate([kv[0], kv[1]], axis=p["axis"])
        if op in LINALG:
            return self.linalg(kv)
        if op in index_cases.OPS:
            return index_cases.compute(op, self.p, kv)
        raise AssertionError(op)

    def linalg(self, kv):
        """numpy.linalg (dtx/linalg.h): values that are unique (R up to signs made positive)."""
        op, p, x = self.op, self.p, kv[0]
        self.inexact = True
        self.nred = max(self.nred, int(np.size(x)))
        if op == "qr_r":
            r = np.linalg.qr(x, mode="r")
            d = np.sign(np.diagonal(r))  # complex: d / |d|, each row's phase made real positive
            return r * np.conj(np.where((d == 0) | np.isnan(d), 1, d)).astype(r.dtype)[:, None]
        if op == "svd_s":
            return np.linalg.svd(x, compute_uv=False)
        if op == "solve":
            return np.linalg.solve(x, kv[1])
        if op == "inv":
            return np.linalg.inv(x)
        if op == "cholesky":
            return np.linalg.cholesky(x)
        o = {"none": None, "fro": "fro", "nuc": "nuc", "inf": np.inf, "-inf": -np.inf}.get(p["ord"])
        o = float(p["ord"]) if o is None and p["ord"] != "none" else o
        return np.linalg.norm(x, ord=o, axis=None if p["axes"] is None else tuple(p["axes"]),
                              keepdims=p["keepdims"])

    def complex_op(self, kv):
        """Complex parts and FFTs (dtx/complex.h, dtx/fft.h)."""
        op, p = self.op, self.p
        if op in ("real", "imag", "conj"):
            return {"real": np.real, "imag": np.imag, "conj": np.conj}[op](kv[0])
        if op == "complex":
            return kv[0] + 1j * kv[1] if kv[0].dtype.kind != "c" and kv[1].dtype.kind != "c" else \
                np.asarray(None)
        self.inexact = True
        norm = p["norm"]
        x = np.asarray(kv[0])
        if op == "fft":
            self.nred = max(self.nred, int(p["n"] or x.shape[p["axis"]]))
            return FFTS[p["name"]](x, n=p["n"] or None, axis=p["axis"], norm=norm)
        self.nred = max(self.nred, int(np.prod(x.shape)))
        kw = {"axes": p["axes"]} if p["axes"] is not None else {}  # fft2's default axes are (-2, -1)
        return FFTNS[p["name"]](x, s=p["s"], norm=norm, **kw)

    def guard_cmp(self, x, y):
        a, b = self.kids
        if not (a.inexact or b.inexact):
            return
        if not (is_float(dtype_of(x)) or is_float(dtype_of(y)) or type(x) is float or type(y) is float):
            return
        xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        d = np.abs(xa - ya)
        near = d <= 1e-3 * np.maximum(1.0, np.maximum(np.abs(xa), np.abs(ya)))
        if near.any():
            raise Skip("a comparison of inexact values that are nearly equal")

    def guard_divmod(self, x, y):
        """floor_divide / mod of inexact floats: skip quotients near an integer (a step of floor)."""
        a, b = self.kids
        if not (a.inexact or b.inexact):
            return
        if not (is_float(dtype_of(x)) or is_float(dtype_of(y)) or type(x) is float or type(y) is float):
            return
        xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        q = xa / ya
        fin = np.isfinite(q)
        near = np.abs(q - np.round(q)) <= 1e-3 * np.maximum(1.0, np.abs(q))
        if (fin & near).any() or (ya == 0).any():
            raise Skip("floor_divide / mod of inexact values near a step")

    def guard_steps(self, op, x, d):
        """rint / round of inexact values near a half (a step), isinf / isfinite near the range's end."""
        kid = self.kids[0]
        if not (kid.inexact and (is_float(dtype_of(x)) or type(x) is float)):
            return
        xa = np.asarray(x, dtype=np.float64)
        if op in ("isinf", "isfinite"):
            lim = {np.float16: 6e4, np.float32: 3e38}.get(np.asarray(x).dtype.type, 1.7e308)
            if (np.isfinite(xa) & (np.abs(xa) > lim / 10)).any():
                raise Skip("isinf / isfinite of inexact values near the float range's end")
            return
        y = xa * 10.0 ** d
        frac = np.abs(y - np.floor(y) - 0.5)
        if (np.isfinite(y) & (frac <= 1e-3 * np.maximum(1.0, np.abs(y)))).any():
            raise Skip("rint / round of inexact values near a half")

    def guard_truth(self, kid, x):
        if kid.inexact and is_float(dtype_of(x)):
            xa = np.asarray(x, dtype=np.float64)
            if (np.abs(xa) <= 1e-3).any():
                raise Skip("the truth of an inexact value near 0")

    def reduce(self, x):
        p = self.p
        name, axes, kd, ddof = p["name"], p["axes"], p["keepdims"], p["ddof"]
        xa = np.asarray(x)
        ax = None if axes is None else tuple(axes)
        n = xa.size if ax is None else int(np.prod([xa.shape[a] for a in ax] or [1]))
        self.nred = max(self.nred, n)
        if name in ("argmin", "argmax", "nanargmin", "nanargmax"):
            if self.kids[0].inexact and xa.dtype.kind in "fc":
                raise Skip("argmin/argmax of inexact floats")
            f = getattr(np, name)
            return f(x, axis=None if ax is None else ax[0], keepdims=kd)
        if name in ("nanmin", "nanmax"):
            return getattr(np, name)(x, axis=ax, keepdims=kd)
        if name in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd"):
            self.inexact = True
            kw = {"ddof": ddof} if name in ("nanvar", "nanstd") else {}
            return getattr(np, name)(x, axis=ax, keepdims=kd, **kw)
        if name in ("any", "all"):
            self.guard_truth(self.kids[0], x)
            return (np.any if name == "any" else np.all)(x, axis=ax, keepdims=kd)
        if name in ("min", "max"):
            return (np.min if name == "min" else np.max)(x, axis=ax, keepdims=kd)
        if name in ("mean", "var", "std") or xa.dtype.kind in "fc":
            self.inexact = True
        f = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "var": np.var, "std": np.std}[name]
        kw = {"ddof": ddof} if name in ("var", "std") else {}
        r = f(x, axis=ax, keepdims=kd, **kw)
        if xa.dtype in (np.float16, np.float32, np.complex64):
            # documented: float16 / float32 reductions accumulate in float64 and round once
            acc = np.complex128 if xa.dtype.kind == "c" else np.float64
            # (var / std of complex64: a float32 result)
            doc = np.asarray(f(x, axis=ax, keepdims=kd, dtype=acc, **kw)).astype(np.asarray(r).dtype)
            ra = np.asarray(r)
            if (np.isinf(ra) != np.isinf(doc)).any():
                STATS["f32_reduction_deviation"] = STATS.get("f32_reduction_deviation", 0) + 1
            r = doc[()] if np.ndim(doc) == 0 else doc
        return r


def round_leaves_range(x, d):
    """Whether numpy.round(x, d) of an integer x casts a float64 outside the dtype back (or nan): C leaves
    that undefined, and NumPy's answer changes with the CPU and the array's length (SIMD or scalar loop);
    dtx gives the scalar x86-64 answer (dtx/array.h), which tests/array_elem_test.cc checks."""
    xa = np.asarray(x)
    if xa.dtype.kind not in "iu" or d >= 0:
        return False
    f = 1.0  # NumPy's power_of_ten: exact to 1e8, then 1e9 times 10 repeatedly (inf past ~1e308)
    for k in range(min(-d, 400)):
        f = 1e9 if k == 8 else f * 10.0
    with np.errstate(all="ignore"):
        y = np.rint(xa.astype(np.float64) / f) * f
    info = np.iinfo(xa.dtype)
    return bool((~np.isfinite(y) | (y < float(info.min)) | (y >= 2.0 ** (8 * xa.dtype.itemsize - (info.min < 0)))).any())


def is_const(n):
    """Whether dtx sees n as an integer constant when building (dtx/array.h)."""
    if n.op == "int" or (n.op == "full" and np.dtype(n.p["dt"]).kind != "f"):
        return True
    if n.op in ("astype", "slice", "transpose") and not is_float(dtype_of(n.kids[0].val)) \
            and type(n.kids[0].val) is not float:
        return is_const(n.kids[0])
    return False


def parse_spec(spec):
    out = []
    for e in spec.split(","):
        if e == "new":
            out.append(None)
        elif ":" in e:
            a, b, c = (e.split(":") + [""])[:3]
            out.append(slice(int(a) if a else None, int(b) if b else None, int(c) if c else None))
        else:
            out.append(int(e))
    return tuple(out)


STATS = {}

# ---- random inputs and expressions ---------------------------------------------------------------

HUGE = [2**31, -2**31 - 1, 2**32, -2**32, 2**40, -2**40, 2**62, -2**63, 2**63 - 1, 2**31 - 1, -2**31]
FLOATS = [7 / 2, 0.5, 2.5, -1.5, 1e-3, 3.0, -0.0, 1e10, float("inf"), float("nan")]


def rand_values(rng, dt, shape):
    n = int(np.prod(shape)) if shape else 1
    if dt == "bool":
        v = np.array([rng.random() < 0.5 for _ in range(n)], dtype=bool)
    elif np.dtype(dt).kind in "iu":
        info = np.iinfo(dt)
        pool = [info.min, info.max, 0, 1, info.max - 1] + ([-1, info.min + 1] if info.min < 0 else [2])
        lo = -20 if info.min < 0 else 0
        v = np.array([rng.choice(pool) if rng.random() < 0.05 else rng.randint(lo, lo + 40) for _ in range(n)],
                     dtype=dt)
    else:
        special = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1.0]
        if dt == "float16":  # the largest half, subnormals, the smallest normal
            special += [65504.0, -65504.0, 6e-8, -6e-8, 2.0**-14, 3e-5]
        v = np.array([rng.choice(special) if rng.random() < 0.04 else rng.uniform(-4, 4) for _ in range(n)],
                     dtype=dt)
    return v.reshape(shape)


def rand_chunks(rng, shape):
    return [rng.randint(1, max(1, s)) for s in shape]


class Gen:
    def __init__(self, rng, inputs, base):
        self.rng, self.inputs, self.base = rng, inputs, base

    def scalar(self):
        r = self.rng.random()
        if r < 0.4:
            return Node("int", v=self.rng.randint(-5, 9))
        if r < 0.55:
            return Node("int", v=self.rng.choice(HUGE))
        if r < 0.85:
            return Node("float", v=round(self.rng.uniform(-4, 4), 3))
        return Node("float", v=self.rng.choice(FLOATS))

    def leaf(self):
        if self.rng.random() < 0.75 or not self.inputs:
            return Node("in", k=self.rng.randrange(len(self.inputs)))
        return self.scalar()

    def expr(self, depth):
        rng = self.rng
        if depth == 0:
            return self.leaf()
        r = rng.random()
        d = depth - 1
        if r < 0.15:
            return Node(rng.choice(UNARY), [self.expr(d)])
        if r < 0.50:
            return Node(rng.choice(BINARY), [self.expr(d), self.expr(d) if rng.random() < 0.6 else self.scalar()])
        if r < 0.57:
            return Node("where", [self.expr(d), self.expr(d), self.expr(d)])
        if r < 0.63:
            return Node("astype", [self.expr(d)], dt=rng.choice(DTYPES))
        if r < 0.66:
            if rng.random() < 0.1:  # NaN bounds and lo > hi (NumPy: nan, and hi)
                return Node("clip", [self.expr(d)], lo=rng.choice([float("nan"), 2.0, -1.0]),
                            hi=rng.choice([float("nan"), 1.0, -2.0, float("inf")]))
            lo = round(rng.uniform(-3, 1), 2)
            return Node("clip", [self.expr(d)], lo=lo, hi=lo + round(rng.uniform(0, 3), 2))
        if r < 0.675:
            return Node("round", [self.expr(d)], d=rng.choice([0, 0, 1, 2, 3, -1, -2, 5]))
        if r < 0.69:
            return Node("persist", [self.expr(d)])
        if r < 0.80:
            return self.reduction(d)
        if r < 0.83 or not self.base:
            return self.product(d)
        if r < 0.86:
            return self.product_nd()
        if r < 0.94:
            return self.slicing(d)
        if r < 0.97:
            return Node("transpose", [self.expr(d)], perm=[])
        x = self.expr(d)
        return Node("concat", [x, Node("astype", [x], dt=rng.choice(DTYPES))], axis=0)

    def reduction(self, d):
        rng = self.rng
        # the axes are drawn once x's shape is known (fill)
        return Node("reduce", [self.expr(d)], name=rng.choice(REDS), axes="draw", keepdims=rng.random() < 0.3,
                    ddof=0)

    def product(self, d):
        rng = self.rng
        k = rng.randint(1, 6) if rng.random() < 0.9 else 0  # k == 0: zeros
        dts = [rng.choice(DTYPES), rng.choice(DTYPES)]
        shapes = rng.choice([([k], [k]), ([rng.randint(1, 5), k], [k]), ([k], [k, rng.randint(1, 5)]),
                             ([rng.randint(1, 5), k], [k, rng.randint(1, 5)])])
        ops = []
        for dt, sh in zip(dts, shapes):
            self.inputs.append((rand_values(rng, dt, sh), rand_chunks(rng, sh)))
            ops.append(Node("in", k=len(self.inputs) - 1))
        r = rng.random()
        if r < 0.5:
            return Node("dot", ops)
        if r < 0.7:
            return Node("matmul", ops)
        return Node("tensordot", ops, aa=[len(shapes[0]) - 1], ab=[0])

    def product_nd(self):
        """Batched matmul (batch dims broadcast, 1-d operands promoted), n-d dot, tensordot over any axes."""
        rng = self.rng
        dts = [rng.choice(DTYPES), rng.choice(DTYPES)]
        k = rng.randint(1, 4) if rng.random() < 0.9 else 0

        def dims(n):
            return [rng.randint(1, 3) for _ in range(n)]
        r = rng.random()
        if r < 0.45:
            batch = dims(rng.randint(0, 3))
            ba = [1 if rng.random() < 0.3 else x for x in batch][rng.randint(0, len(batch)):]
            bb = [1 if rng.random() < 0.3 else x for x in batch][rng.randint(0, len(batch)):]
            sa = ba + [rng.randint(1, 4), k] if rng.random() < 0.85 else [k]
            sb = bb + [k, rng.randint(1, 4)] if rng.random() < 0.85 else [k]
            op, extra = "matmul", {}
        elif r < 0.7:
            sa = dims(rng.randint(0, 3)) + [k]
            sb = [k] if rng.random() < 0.3 else dims(rng.randint(0, 2)) + [k, rng.randint(1, 3)]
            op, extra = "dot", {}
        else:
            na, nb, n = rng.randint(1, 4), rng.randint(1, 4), 0
            n = rng.randint(1, min(na, nb))
            sa = dims(na)
            sb = dims(nb)
            aa = rng.sample(range(na), n)
            ab = rng.sample(range(nb), n)
            for i, j in zip(aa, ab):
                sb[j] = sa[i]
            op, extra = "tensordot", {"aa": aa, "ab": ab}
        ops = []
        for dt, sh in zip(dts, (sa, sb)):
            self.inputs.append((rand_values(rng, dt, sh), rand_chunks(rng, sh)))
            ops.append(Node("in", k=len(self.inputs) - 1))
        return Node(op, ops, **extra)

    def slicing(self, d):
        return Node("slice", [self.expr(d)], spec=None)  # the spec is drawn once the shape is known (fill)


def draw_spec(rng, shape):
    ents = []
    for n in shape:
        r = rng.random()
        if r < 0.15 or n == 0:
            # bounds anywhere, past either end too (clamped as in Python), maybe empty
            def bound():
                return "" if rng.random() < 0.2 else str(rng.randint(-n - 4, n + 4))
            ents.append(f"{bound()}:{bound()}:{rng.choice([1, 1, 2, -1, -3])}")
            continue
        if r < 0.3:
            ents.append(str(rng.randint(-n, n - 1)))
            continue
        if r < 0.4:
            ents.append("new")
        step = rng.choice([1, 1, 2, 3, -1, -2, 2**63 - 1, -(2**63 - 1), -2**63])
        if step > 0:
            a = rng.randint(-n, n - 1)
            b = rng.randint(a + 1 if a >= 0 else a + n + 1, n)
            ents.append(f"{a}:{b}:{step}" if rng.random() < 0.7 else f"::{step}")
        else:
            a = rng.randint(0, n - 1)
            ents.append(f"{a}::{step}" if rng.random() < 0.7 else f"::{step}")
    return ",".join(ents)


def fill(node, inputs, rng):
    """Draws slice specs and reduction axes bottom-up, once the operand's shape is known."""
    for k in node.kids:
        fill(k, inputs, rng)
    todo_slice = node.op == "slice" and node.p["spec"] is None
    todo_red = node.op == "reduce" and node.p["axes"] == "draw"
    if not (todo_slice or todo_red):
        return
    try:
        node.kids[0].eval(inputs)
    except NumpyError:
        raise Skip("NumPy raises below a slice or reduction") from None
    shape = np.shape(node.kids[0].val)
    if todo_slice:
        if len(shape) == 0:
            raise Skip("a slice of a 0-d value")
        node.p["spec"] = draw_spec(rng, shape)
        return
    nd, axes = len(shape), None
    if nd > 0 and rng.random() < 0.6:
        if node.p["name"] in ("argmin", "argmax"):
            axes = [rng.randrange(nd)]
        else:
            axes = sorted(rng.sample(range(nd), rng.randint(1, nd)))
    node.p["axes"] = axes


# ---- writing cases --------------------------------------------------------------------------------


def fmt_values(v):
    a = np.asarray(v)
    if a.dtype == bool:
        return " ".join("1" if x else "0" for x in a.ravel())
    if a.dtype.kind in "iu":
        return " ".join(str(int(x)) for x in a.ravel())
    if a.dtype.kind == "c":  # pairs: real, imaginary
        return " ".join(f"{float(x.real).hex()} {float(x.imag).hex()}" for x in a.ravel())
    return " ".join(float(x).hex() for x in a.ravel())


def topk(x, k, axis, arg):
    """dask.array.topk / argtopk as dtx computes them: NumPy's order (a stable
    sort), the |k| largest first for k > 0, the smallest first for k < 0; of
    equal values the smaller index first (dask: as its partition leaves them)."""
    x = np.moveaxis(np.asarray(x), axis, -1)
    n = x.shape[-1]
    if k < 0:
        idx = np.argsort(x, axis=-1, kind="stable")[..., :-k]
    else:  # descending, ties by ascending index: a stable sort of the reversed lane, reversed
        idx = (n - 1 - np.argsort(x[..., ::-1], axis=-1, kind="stable"))[..., ::-1][..., :k]
    r = idx if arg else np.take_along_axis(x, idx, axis=-1)
    return np.moveaxis(r, -1, axis)


class Writer:
    def __init__(self, out):
        self.out = out
        self.lines = []
        self.n = 0
        self.errors = 0

    def add(self, name, inputs, node, buf=None, want=None, note=None, tol=None, signs=False):
        """One case; want overrides NumPy's answer (documented deviations); tol (atol, rtol) overrides the
        tolerance of an inexact float result; signs: zeros must have NumPy's signs."""
        arrays = [a for a, _ in inputs]
        vals = {k: np.asarray(a) for k, a in enumerate(arrays)}
        err = None
        if want is not None:  # a documented deviation: NumPy's answer is not the one expected
            try:
                node.eval(vals)
            except (Skip, NumpyError):
                pass
            res = np.asarray(want)
        else:
            try:
                node.eval(vals)
                res = np.asarray(node.val)
            except NumpyError as e:
                err = e
        cid = self.n
        lines = [f"case {cid} {name}"]
        if note:
            lines.append(f"# {note}")
        for k, (a, ch) in enumerate(inputs):
            fn = f"c{cid}_in{k}.npy"
            np.save(os.path.join(self.out, fn), np.asarray(a))
            lines.append(f"in {k} {fn} {','.join(map(str, ch)) or '-'}")
        lines.append(f"expr {node.text()}")
        if buf is not None:
            lines.append(f"buf {buf}")
        if err is not None or (buf is not None and buf != res.dtype.name):
            why = type(err.exc).__name__ + ": " + str(err.exc) if err is not None else \
                f"a {buf} buffer for a {res.dtype.name} result"
            lines.append(f"want error {why.splitlines()[0]}")
            self.errors += 1
        else:
            rtol = 0.0
            atol = 0.0
            if res.dtype.kind in "fc" and node.inexact:
                rtol = 4e-3 if node.half else 2e-4 if node.low else 1e-9
                atol = rtol * node.scale * max(1, node.nred)
                if tol is not None:
                    atol, rtol = tol
            shape = ",".join(map(str, res.shape)) or "-"
            lines.append(f"want {res.dtype.name} {shape} {atol!r} {rtol!r}")
            if signs:
                lines.append("signs")
            lines.append(f"values {fmt_values(res)}")
        lines.append("end")
        self.lines.extend(lines)
        self.n += 1

    def finish(self, header):
        with open(os.path.join(self.out, "cases.txt"), "w") as f:
            f.write("\n".join(header + self.lines) + "\n")


def random_case(rng, w, cid):
    nd = rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7])
    base = [rng.randint(1, 6 if nd <= 4 else 3) for _ in range(nd)]
    if nd > 0 and rng.random() < 0.1:  # an empty axis
        base[rng.randrange(nd)] = 0
    inputs = []
    for _ in range(rng.randint(1, 3)):
        shape = list(base[rng.randint(0, nd):]) if nd else []
        shape = [1 if rng.random() < 0.2 else s for s in shape]
        inputs.append((rand_values(rng, rng.choice(DTYPES), shape), rand_chunks(rng, shape)))
    g = Gen(rng, inputs, base)
    node = g.expr(rng.randint(1, 3))
    fill(node, {k: np.asarray(a) for k, (a, _) in enumerate(inputs)}, rng)
    buf = rng.choice(DTYPES) if rng.random() < 0.05 else None
    w.add(f"random_{cid}", inputs, node, buf=buf)


def named_cases(w):
    """The items of issue 11, one case each (and the documented deviations)."""
    def I(v):
        return Node("int", v=v)

    def F(v):
        return Node("float", v=v)

    X, Y = Node("in", k=0), Node("in", k=1)
    i32 = (np.array([0, 1, 2, -3, 4, 2**31 - 1, -2**31], dtype=np.int32), [3])
    i64 = (np.array([0, 1, 2, -3, 4], dtype=np.int64), [2])
    f32 = (np.array([0.5, 1, -2, 3.25, 4], dtype=np.float32), [2])
    b5 = (np.array([True, False, True, True, False]), [2])
    b7 = (np.array([True, False, True, True, False, False, True]), [4])

    def N(op, *k, **p):
        return Node(op, k, **p)

    # 1. Python scalars are weak only as direct operands
    w.add("weak_div_times_i32", [i32], N("mul", N("div", I(7), I(2)), X))
    w.add("weak_exp1_times_i32", [i32], N("mul", N("exp", I(1)), X))
    w.add("weak_sqrt2_times_i64", [i64], N("mul", N("sqrt", I(2)), X))
    w.add("weak_log10_plus_bool", [b5], N("add", N("log", I(10)), X))
    w.add("weak_where_div_i32", [b7, i32], N("where", X, N("div", I(7), I(2)), Y))
    w.add("weak_astype_f64_times_i32", [i32], N("mul", N("astype", N("div", I(7), I(2)), dt="float64"), X))
    w.add("weak_persist_times_i32", [i32], N("mul", N("persist", N("exp", I(1))), X))
    w.add("weak_astype_same_times_f32", [f32], N("mul", N("astype", F(2.5), dt="float64"), X))
    w.add("weak_where_two_scalars_f32", [b5, f32], N("mul", N("where", X, I(1), F(2.5)), Y))
    w.add("weak_exp2_times_f32", [f32], N("mul", N("exp", F(2.0)), X))
    w.add("weak_dot_scalar_f32", [f32], N("dot", F(2.5), X))
    w.add("weak_dot_f32_scalar", [f32], N("dot", X, F(2.5)))
    w.add("weak_persist_scalar_f32", [f32], N("mul", N("persist", F(2.5)), X))
    w.add("weak_direct_stays_f32", [f32], N("mul", X, F(2.5)))
    w.add("weak_direct_stays_i32", [i32], N("mul", X, I(7)))
    # 2. Python ints int32 does not hold
    w.add("huge_eq_2p32", [i32], N("eq", X, I(2**32)))
    w.add("huge_lt_2p40", [i32], N("lt", X, I(2**40)))
    w.add("huge_gt_neg2p40", [i32], N("gt", X, I(-2**40)))
    w.add("huge_ge_2p31", [i32], N("ge", X, I(2**31)))
    w.add("huge_ne_2p63m1", [i32], N("ne", I(2**63 - 1), X))
    w.add("huge_add_2p40_error", [i32], N("add", X, I(2**40)))
    w.add("huge_mul_2p31_error", [i32], N("mul", X, I(2**31)))
    w.add("huge_sub_from_2p40_error", [i32], N("sub", I(2**40), X))
    w.add("huge_maximum_error", [i32], N("maximum", X, I(-2**40)))
    w.add("huge_add_min_int32_ok", [i32], N("add", X, I(-2**31)))
    w.add("huge_div_ok", [i32], N("div", X, I(2**40)))
    w.add("huge_bool_add_int64", [b5], N("add", X, I(2**40)))
    w.add("huge_where_wraps", [b7, i32], N("where", X, I(2**40 + 5), Y))
    # 3. integers to negative integer powers
    w.add("negpow_i32_scalar_error", [i32], N("pow", X, I(-1)))
    w.add("negpow_bool_scalar_error", [b5], N("pow", X, I(-2)))
    w.add("negpow_full_error", [i64], N("pow", X, Node("full", dt="int64", v=-2, shape=[5])))
    w.add("negpow_astype_error", [i32], N("pow", X, N("astype", I(-3), dt="int32")))
    w.add("negpow_two_scalars_error", [], N("pow", I(2), I(-1)))
    w.add("negpow_float_exponent_ok", [i32], N("pow", X, F(-1.0)))
    e = (np.array([-1, -2, -1, 2, -3, 0, -1], dtype=np.int32), [3])
    base = np.array([0, 1, 2, -3, 4, -1, -1], dtype=np.int32)
    doc = np.where(base == 1, 1, np.where(base == -1, np.where(e[0] % 2 != 0, -1, 1), 0)).astype(np.int32)
    doc = np.where(e[0] >= 0, base.astype(np.int64) ** np.maximum(e[0], 0), doc).astype(np.int32)
    w.add("negpow_array_exponent_documented", [(base, [4]), e], N("pow", X, Y), want=doc,
          note="documented deviation: NumPy raises ValueError; dtx gives 0, or 1 / -1 for bases 1 / -1")
    # 4. dot / tensordot dtypes
    big = (np.array([2**30] * 4, dtype=np.int32), [3])
    four = (np.array([4, 4, 4, 4], dtype=np.int32), [2])
    w.add("dot_i32_wraps", [big, four], N("dot", X, Y))
    w.add("dot_i32", [(np.array([1, -2, 3], np.int32), [2]), (np.array([4, 5, -6], np.int32), [1])],
          N("dot", X, Y))
    w.add("tensordot_i32", [(np.array([1, -2, 3], np.int32), [2]), (np.array([4, 5, -6], np.int32), [1])],
          Node("tensordot", [X, Y], aa=[0], ab=[0]))
    bp, bq = np.array([1, 0, 1, 0, 0], bool), np.array([0, 1, 1, 0, 1], bool)
    w.add("dot_bool_true", [(bp, [2]), (bq, [3])], N("dot", X, Y))
    w.add("dot_bool_false", [(bp, [2]), (~bp, [3])], N("dot", X, Y))
    w.add("tensordot_bool", [(bp, [2]), (bq, [3])], Node("tensordot", [X, Y], aa=[0], ab=[0]))
    w.add("dot_bool_i32", [(bp, [2]), (np.arange(5, dtype=np.int32), [3])], N("dot", X, Y))
    m = np.array([[1, 2], [3, 4]], np.int32)
    w.add("tensordot_i32_2d_full", [(m, [1, 2]), (m, [2, 1])], Node("tensordot", [X, Y], aa=[0, 1], ab=[0, 1]))
    w.add("dot_bool_2d", [(m > 2, [1, 2]), (m > 1, [2, 1])], N("dot", X, Y))
    # 5. slice steps near 2**63
    ar = (np.arange(10, dtype=np.int64), [3])
    a2 = (np.arange(40, dtype=np.float64).reshape(4, 10), [3, 4])
    for nm, spec in [("slice_step_2p63m1", "0:10:9223372036854775807"), ("slice_step_max", "::9223372036854775807"),
                     ("slice_step_neg_max", "::-9223372036854775807"), ("slice_step_min", "::-9223372036854775808"),
                     ("slice_step_neg_from_9", "9:0:-9223372036854775807")]:
        w.add(nm, [ar], Node("slice", [X], spec=spec))
    w.add("slice_step_huge_2d", [a2], Node("slice", [X], spec="1::9223372036854775807,::3"))
    # 6. the dtype of a compute buffer
    x32 = (np.arange(1, 6, dtype=np.int32), [2])
    w.add("compute_sum_i32_into_f64_error", [x32], Node("reduce", [X], name="sum", axes=None, keepdims=False,
                                                           ddof=0), buf="float64")
    w.add("compute_sum_i32_into_i64_ok", [x32], Node("reduce", [X], name="sum", axes=None, keepdims=False,
                                                        ddof=0), buf="int64")
    w.add("compute_i32_into_f32_error", [x32], X, buf="float32")
    # float32 reductions accumulate in float64 (documented)
    big32 = (np.array([3e38, 3e38, -3e38, -3e38], np.float32), [3])
    w.add("f32_sum_no_intermediate_overflow", [big32],
          Node("reduce", [X], name="sum", axes=None, keepdims=False, ddof=0), want=np.float32(0),
          note="documented deviation: NumPy's float32 pairwise sum overflows to inf; dtx gives 0")
    w.add("f32_sum_total_overflows", [(np.array([3e38, 3e38, 3e38, 1], np.float32), [3])],
          Node("reduce", [X], name="sum", axes=None, keepdims=False, ddof=0), want=np.float32(np.inf),
          note="NumPy gives inf too")
    # 8. empty arrays and slices clamped as in Python
    ten = (np.arange(10, dtype=np.int64), [3])
    for spec in ["5:5:1", "7:3:1", "3:7:-1", "8:100:1", "100:200:1", "-100:2:1", "100::-3", ":-100:-4",
                 "-100:-50:1", "-100::-1"]:
        w.add(f"slice_clamped_{spec}", [ten], N("slice", X, spec=spec))
    w.add("slice_step_zero_error", [ten], N("slice", X, spec="1:5:0"))
    w.add("slice_int_out_of_range_error", [ten], N("slice", X, spec="10"))
    e23 = (np.zeros((2, 0, 3), np.float64), [1, 1, 2])
    e0 = (np.zeros((0,), np.int32), [1])
    for name in REDS:
        w.add(f"empty_{name}_all", [e23], Node("reduce", [X], name=name, axes=None, keepdims=False, ddof=0))
        w.add(f"empty_{name}_axis2", [e23], Node("reduce", [X], name=name, axes=[2], keepdims=False, ddof=0))
    w.add("empty_sum_axis1_keepdims", [e23], Node("reduce", [X], name="sum", axes=[1], keepdims=True, ddof=0))
    w.add("empty_prod_int", [e0], Node("reduce", [X], name="prod", axes=None, keepdims=False, ddof=0))
    w.add("empty_broadcast_add", [e23, (np.ones((1, 3), np.float32), [1, 2])], N("add", X, Y))
    w.add("empty_concat", [e0, (np.arange(4, dtype=np.int64), [3])], N("concat", X, Y, axis=0))
    w.add("empty_matmul_k0", [(np.ones((3, 0)), [2, 1]), (np.ones((0, 4), np.float32), [1, 3])],
          N("matmul", X, Y))
    w.add("empty_dot_k0", [(np.ones((0,)), [1]), (np.ones((0, 2)), [1, 1])], N("dot", X, Y))
    w.add("empty_transpose", [e23], Node("transpose", [X], perm=[2, 0, 1]))
    w.add("eight_dims_sum", [(np.arange(2 * 3 * 2 * 1 * 2 * 3 * 1 * 2, dtype=np.float64).reshape(2, 3, 2, 1, 2, 3, 1, 2),
                              [1, 2, 1, 1, 2, 2, 1, 1])],
          Node("reduce", [N("mul", X, F(0.5))], name="sum", axes=[1, 4, 7], keepdims=False, ddof=0))
    elem_cases(w)
    linalg_cases(w)


def elem_cases(w):
    """isnan / isinf / isfinite, rint, round, floor_divide, mod and clip: every dtype, the corners."""
    X, Y = Node("in", k=0), Node("in", k=1)

    def N(op, *k, **p):
        return Node(op, k, **p)

    def specials(dt):
        if np.dtype(dt).kind == "b":
            return np.array([True, False, True, False, False, True, True])
        if np.dtype(dt).kind in "iu":
            info = np.iinfo(dt)
            vals = [info.min, info.max, 0, 1, 2, 3, 7, 15, 25, 35, 45, info.max - 1, info.min + 1]
            vals += [-1, -2, -7, -15, -25, -35] if info.min < 0 else [250 % (info.max + 1), 100]
            return np.array(vals, dtype=dt)
        f = [0.0, -0.0, np.nan, np.inf, -np.inf, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, -3.0, 7.0, -7.0, 0.25, 0.35,
             1.2345678, 12345.678, 2.5e-5, 6.0, 1e-30]
        if dt == "float16":
            f += [65504.0, -65504.0, 6e-8, 7.5, -7.5]
        return np.array(f, dtype=dt)

    for dt in DTYPES:
        v = specials(dt)
        ch = [max(1, len(v) // 3)]
        for op in ("isnan", "isinf", "isfinite", "rint"):
            w.add(f"elem_{op}_{dt}", [(v, ch)], N(op, X))
        for d in (0, 1, 2, 3, -1, -2, -3, 5, 12, -19, -20, 400, -400):
            vr = v
            if np.dtype(dt).kind in "iu" and d < 0:  # the values whose result the dtype holds
                vr = np.array([e for e in v if not round_leaves_range(np.array([e], dtype=dt), d)], dtype=dt)
                if len(vr) == 0:
                    continue
            w.add(f"elem_round_{dt}_{d}", [(vr, [max(1, len(vr) // 3)])], N("round", X, d=d))
        # every pair of the specials: x // y and x % y (divisors 0, -1, inf, nan, -0.0 included)
        a, b = np.repeat(v, len(v)), np.tile(v, len(v))
        for op in ("floor_divide", "mod"):
            w.add(f"elem_{op}_{dt}_pairs", [(a, [37]), (b, [29])], N(op, X, Y))
            w.add(f"elem_{op}_{dt}_by_int", [(v, ch)], N(op, X, Node("int", v=3)))
            w.add(f"elem_{op}_{dt}_by_neg_int", [(v, ch)], N(op, X, Node("int", v=-1)))
            w.add(f"elem_{op}_{dt}_by_zero", [(v, ch)], N(op, X, Node("int", v=0)))
            w.add(f"elem_{op}_{dt}_by_float", [(v, ch)], N(op, X, Node("float", v=-2.5)))
            w.add(f"elem_{op}_int_by_{dt}", [(v, ch)], N(op, Node("int", v=7), X))
        for lo, hi in ((float("nan"), 1.0), (0.0, float("nan")), (2.0, 1.0), (-0.0, 0.0), (-1.5, 2.25),
                       (float("-inf"), float("inf"))):
            w.add(f"elem_clip_{dt}_{lo}_{hi}", [(v, ch)], N("clip", X, lo=lo, hi=hi))
    # mixed dtypes (NEP 50 promotion), 2-d with broadcasting
    m = np.arange(-12, 12, dtype=np.int16).reshape(4, 6)
    r = np.array([5, 3, 0, 7, 255, 2], dtype=np.uint8)
    for op in ("floor_divide", "mod"):
        w.add(f"elem_{op}_i16_u8_broadcast", [(m, [3, 4]), (r, [4])], N(op, X, Y))
        w.add(f"elem_{op}_u8_f32", [(r, [4]), (np.array([2.5, -1.5, 0.0, np.inf, -0.0, 3.0], np.float32), [5])],
              N(op, X, Y))
        w.add(f"elem_{op}_i64_u64", [(np.array([-7, 7, 2**62], np.int64), [2]),
                                     (np.array([2, 3, 2**63 + 5], np.uint64), [2])], N(op, X, Y))
        w.add(f"elem_{op}_huge_int_error", [(m, [3, 4])], N(op, X, Node("int", v=2**40)))
        w.add(f"elem_{op}_bool_bool", [(np.array([True, False, True, False]), [3]),
                                       (np.array([True, True, False, False]), [3])], N(op, X, Y))
    w.add("elem_fused_divmod_identity", [(m, [3, 4]), (np.array([5, -3, 4, 7, -1, 2], np.int16), [4])],
          N("add", N("mul", N("floor_divide", X, Y), Y), N("mod", X, Y)))
    w.add("elem_empty_i8_pow_neg", [(np.zeros((0,), np.int8), [1])], N("pow", X, Node("int", v=-1)))
    w.add("elem_empty_2d_round", [(np.zeros((3, 0), np.int32), [2, 1])], N("round", X, d=-1))
    w.add("elem_round_scalar", [], N("round", Node("float", v=2.675), d=2))
    w.add("elem_round_int_scalar", [], N("round", Node("int", v=-25), d=-1))


def linalg_cases(w):
    """numpy.linalg: values that are unique, over tall, square and ragged chunkings."""
    X, Y = Node("in", k=0), Node("in", k=1)
    rng = np.random.default_rng(1111)

    def N(op, *k, **p):
        return Node(op, k, **p)

    tall = rng.standard_normal((47, 5))
    sq = rng.standard_normal((9, 9)) + 9 * np.eye(9)
    spd = sq @ sq.T
    for dt in ("float64", "float32"):
        t = (tall.astype(dt), [10, 5])
        w.add(f"la_qr_r_tall_{dt}", [t], N("qr_r", X))
        w.add(f"la_svd_s_tall_{dt}", [t], N("svd_s", X))
        w.add(f"la_svd_s_wide_{dt}", [(tall.T.astype(dt), [5, 10])], N("svd_s", X))
        w.add(f"la_solve_{dt}", [(sq.astype(dt), [4, 4]), (tall[:9].astype(dt), [4, 2])], N("solve", X, Y))
        w.add(f"la_solve_vec_{dt}", [(sq.astype(dt), [4, 4]), (tall[:9, 0].astype(dt), [4])], N("solve", X, Y))
        w.add(f"la_inv_{dt}", [(sq.astype(dt), [4, 4])], N("inv", X))
        w.add(f"la_cholesky_{dt}", [(spd.astype(dt), [4, 4])], N("cholesky", X))
    # NaN (issue 11): QR, solve and inv give NaN where NumPy's LAPACK does; the SVD raises
    nan_tall, nan_sq, nan_b = tall.copy(), sq.copy(), tall[:9].copy()
    nan_tall[22, 2] = nan_sq[3, 5] = nan_b[4, 1] = np.nan
    r_nan = np.linalg.qr(nan_tall, mode="r")
    r_nan = r_nan * np.where(np.diagonal(r_nan) < 0, -1.0, 1.0)[:, None]
    r_nan[np.triu(np.ones((5, 5), bool)) & (np.arange(5) >= 2)[None, :]] = np.nan
    w.add("la_qr_r_nan", [(nan_tall, [10, 5])], N("qr_r", X), want=r_nan,
          note="documented deviation: in a tall-skinny QR (row blocks, as Dask's tsqr) a NaN in column 2 of one "
               "block makes columns 2.. of R NaN in every row; NumPy's one QR keeps the rows above finite")
    w.add("la_qr_r_nan_one_chunk", [(nan_tall, [47, 5])], N("qr_r", X))
    w.add("la_solve_nan_a", [(nan_sq, [4, 4]), (tall[:9], [4, 2])], N("solve", X, Y))
    w.add("la_solve_nan_b", [(sq, [4, 4]), (nan_b, [4, 2])], N("solve", X, Y))
    w.add("la_inv_nan", [(nan_sq, [4, 4])], N("inv", X))
    w.add("la_cholesky_nan", [(nan_sq @ nan_sq.T, [4, 4])], N("cholesky", X))
    w.add("la_svd_s_nan_error", [(nan_sq, [4, 4])], N("svd_s", X))
    w.add("la_qr_r_int32", [(np.arange(24, dtype=np.int32).reshape(8, 3) % 7, [3, 3])], N("qr_r", X))
    w.add("la_inv_int64", [(np.array([[2, 1], [1, 3]], np.int64), [1, 1])], N("inv", X))
    w.add("la_svd_s_one_chunk", [(sq, [9, 9])], N("svd_s", X))
    m = (rng.standard_normal((6, 11)), [4, 11])
    for o in ("none", "fro", "nuc", "inf", "-inf", "1", "-1", "2", "-2"):
        w.add(f"la_norm_matrix_{o}", [m], N("norm", X, ord=o, axes=None, keepdims=False))
    w.add("la_norm_matrix_keepdims", [m], N("norm", X, ord="fro", axes=[0, 1], keepdims=True))
    w.add("la_norm_matrix_axes_swapped", [m], N("norm", X, ord="1", axes=[1, 0], keepdims=False))
    v = (rng.standard_normal(13).astype(np.float32), [5])
    for o in ("none", "inf", "-inf", "0", "1", "2", "3.5", "-1"):
        w.add(f"la_norm_vector_{o}", [v], N("norm", X, ord=o, axes=None, keepdims=False))
    c3 = (rng.standard_normal((3, 4, 5)), [2, 3, 5])
    w.add("la_norm_3d_flat", [c3], N("norm", X, ord="none", axes=None, keepdims=False))
    w.add("la_norm_3d_axis1", [c3], N("norm", X, ord="2", axes=[1], keepdims=True))
    w.add("la_norm_3d_matrix_02", [c3], N("norm", X, ord="inf", axes=[0, 2], keepdims=False))
    w.add("la_norm_int32", [(np.arange(-4, 5, dtype=np.int32), [4])], N("norm", X, ord="none", axes=None,
                                                                          keepdims=False))
    linalg_complex_cases(w, rng, N, X, Y)


def linalg_complex_cases(w, rng, N, X, Y):
    """numpy.linalg of complex64 / complex128 matrices and mixed real / complex operands."""
    def cplx(shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    tall = cplx((47, 5))
    sq = cplx((9, 9)) + 9 * np.eye(9)
    hpd = sq @ sq.conj().T
    rhs = cplx((9, 2))
    for dt in ("complex128", "complex64"):
        t = (tall.astype(dt), [10, 5])
        w.add(f"la_qr_r_tall_{dt}", [t], N("qr_r", X))
        w.add(f"la_qr_r_square_{dt}", [(sq.astype(dt), [9, 9])], N("qr_r", X))
        w.add(f"la_svd_s_tall_{dt}", [t], N("svd_s", X))
        w.add(f"la_svd_s_wide_{dt}", [(tall.T.astype(dt), [5, 10])], N("svd_s", X))
        w.add(f"la_svd_s_one_chunk_{dt}", [(sq.astype(dt), [9, 9])], N("svd_s", X))
        w.add(f"la_solve_{dt}", [(sq.astype(dt), [4, 4]), (rhs.astype(dt), [4, 2])], N("solve", X, Y))
        w.add(f"la_solve_vec_{dt}", [(sq.astype(dt), [4, 4]), (rhs[:, 0].astype(dt), [4])], N("solve", X, Y))
        w.add(f"la_inv_{dt}", [(sq.astype(dt), [4, 4])], N("inv", X))
        w.add(f"la_cholesky_{dt}", [(hpd.astype(dt), [4, 4])], N("cholesky", X))
        m = (cplx((6, 11)).astype(dt), [6, 4])
        for o in ("nuc", "2", "-2", "fro", "1", "inf"):
            w.add(f"la_norm_matrix_{o}_{dt}", [m], N("norm", X, ord=o, axes=None, keepdims=False))
        w.add(f"la_norm_nuc_keepdims_{dt}", [m], N("norm", X, ord="nuc", axes=[1, 0], keepdims=True))
    # NumPy's result_type of mixed operands
    for da, db in (("float32", "complex64"), ("float64", "complex64"), ("complex64", "float32"),
                   ("int32", "complex64"), ("complex64", "complex128")):
        a = sq.real.round() if da == "int32" else sq.real if da.startswith("float") else sq
        b = rhs.real if db.startswith("float") else rhs
        w.add(f"la_solve_{da}_{db}", [(a.astype(da), [4, 4]), (b.astype(db), [4, 2])], N("solve", X, Y))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, default=600, help="random cases")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    w = Writer(a.out)
    named_cases(w)
    dtype_cases.add(w, Node)
    index_cases.add(w, Node)
    complex_cases.add(w, Node)
    nnamed = w.n
    skipped = {}
    tries = 0
    while w.n - nnamed < a.count:
        tries += 1
        if tries > 50 * a.count:
            sys.exit("gen.py: too many skipped cases")
        try:
            random_case(rng, w, w.n)
        except Skip as e:
            skipped[str(e)] = skipped.get(str(e), 0) + 1
    header = [f"# dtx array conformance: seed {a.seed}, {nnamed} named and {a.count} random cases, "
              f"NumPy {np.__version__}"]
    w.finish(header)
    print(f"gen.py: seed {a.seed}: {w.n} cases ({nnamed} named, {a.count} random; {w.errors} expect an error), "
          f"NumPy {np.__version__}")
    for why, n in sorted(skipped.items(), key=lambda kv: -kv[1]):
        print(f"gen.py: dropped {n}: {why}")
    for k, n in sorted(STATS.items()):
        print(f"gen.py: {k}: {n}")


if __name__ == "__main__":
    main()
