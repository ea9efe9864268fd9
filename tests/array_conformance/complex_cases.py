"""tests/array_conformance/complex_cases.py - the named conformance cases of complex arrays and FFTs.

complex64 / complex128 (dtx/complex.h): arithmetic with NEP 50 dtypes (real arrays, Python
ints, floats and complex scalars), division by zeros and infinities, comparisons, abs, parts,
astype both ways, where, views, joins, sums and means, products, persist; exp, log, sqrt, sin,
cos, tanh, power, rint, round, isnan / isinf / isfinite, prod, var, std, any, all (special-value
tables: a few ulp, NaN, infinities and zero signs exact); numpy.fft
(dtx/fft.h): every transform, n / s cropping and padding, axes, norms and dtypes. gen.py calls
add() with its Writer and Node class.
"""
import numpy as np


def add(w, Node):
    def I(v):
        return Node("int", v=v)

    def F(v):
        return Node("float", v=v)

    def C(v):
        return Node("cscalar", v=complex(v))

    def N(op, *k, **p):
        return Node(op, k, **p)

    def R(name, x, axes=None, keepdims=False):
        return Node("reduce", [x], name=name, axes=axes, keepdims=keepdims, ddof=0)

    X, Y, Z = Node("in", k=0), Node("in", k=1), Node("in", k=2)
    rng = np.random.default_rng(2026)

    def cplx(shape, dt):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)

    c128 = (cplx((5, 4), np.complex128), [2, 3])
    c64 = (cplx((5, 4), np.complex64), [3, 4])
    row = (cplx((4,), np.complex128), [3])
    f32 = (rng.standard_normal(4).astype(np.float32), [2])
    f64 = (rng.standard_normal((5, 4)), [5, 2])
    i32 = (np.array([1, -2, 3, 40000], np.int32), [3])
    i16 = (np.array([1, -2, 3, 400], np.int16), [4])
    bm = (rng.standard_normal((5, 4)) > 0, [2, 2])
    sp = [0, -0.0, np.inf, -np.inf, np.nan, 1, 2.5]
    special = (np.array([complex(a, b) for a in sp for b in sp], np.complex128), [17])
    divisors = (np.array([complex(b, a) for a in sp for b in sp], np.complex128), [23])
    for op in ("add", "sub", "mul", "div", "eq", "ne"):
        w.add(f"cx_{op}_c128_c128", [c128, c128], N(op, X, N("conj", Y)))
        w.add(f"cx_{op}_c64_row", [c64, row], N(op, X, Y))
        w.add(f"cx_{op}_c64_f32", [c64, f32], N(op, X, Y))
        w.add(f"cx_{op}_c64_i32", [c64, i32], N(op, X, Y))
        w.add(f"cx_{op}_c64_i16", [c64, i16], N(op, X, Y))
        w.add(f"cx_{op}_f64_c64", [f64, c64], N(op, X, Y))
        w.add(f"cx_{op}_c64_pyfloat", [c64], N(op, X, F(2.5)))
        w.add(f"cx_{op}_c64_pyint", [c64], N(op, X, I(3)))
        w.add(f"cx_{op}_c64_pycomplex", [c64], N(op, X, C(1.5 - 2j)))
        w.add(f"cx_{op}_f32_pycomplex", [f32], N(op, X, C(2j)))
        w.add(f"cx_{op}_i32_pycomplex", [i32], N(op, C(0.5 + 1j), X))
        w.add(f"cx_{op}_bool_pycomplex", [bm], N(op, X, C(1j)))
        w.add(f"cx_{op}_specials", [special, divisors], N(op, X, Y))
    for op in ("neg", "abs"):
        w.add(f"cx_{op}_c128", [c128], N(op, X))
        w.add(f"cx_{op}_c64", [c64], N(op, X))
        w.add(f"cx_{op}_specials", [special], N(op, X))
    w.add("cx_abs_tiny", [(np.array([3 + 4j, 1e-300 + 1e-300j, -2.5e-310j, 5e-324 + 5e-324j]), [2])], N("abs", X))
    for op in ("real", "imag", "conj"):
        w.add(f"cx_{op}_c64", [c64], N(op, X))
        w.add(f"cx_{op}_f32", [f32], N(op, X))
    w.add("cx_complex_f32_f32", [f32, f32], N("complex", X, Y))
    w.add("cx_complex_i16_i16", [i16, i16], N("complex", X, Y))
    w.add("cx_complex_f64_row", [f64, f32], N("complex", X, Y))
    for dt in ("complex64", "complex128", "float32", "float64", "int32", "bool", "float16"):
        w.add(f"cx_astype_c128_{dt}", [special if dt not in ("int32", "float16") else c128], N("astype", X, dt=dt))
    for dt in ("float32", "int32", "bool", "float16", "uint8"):
        w.add(f"cx_astype_{dt}_c64", [(np.array([0, 1, 2, 250], dtype=dt), [3])], N("astype", X, dt="complex64"))
    w.add("cx_where_c128_pyfloat", [bm, c128], N("where", X, Y, F(7.0)))
    w.add("cx_where_f64_c64", [bm, f64, c64], N("where", X, Y, Z))
    w.add("cx_slice", [c128], N("slice", X, spec="4::-2,new,-1"))
    w.add("cx_transpose", [c128], N("transpose", X, perm=[1, 0]))
    w.add("cx_concat_real", [c64, f64], N("concat", X, Y, axis=0))
    w.add("cx_persist", [c128], N("mul", N("persist", N("mul", X, X)), X))
    for name in ("sum", "mean"):
        for axes in (None, [0], [1], [0, 1]):
            for kd in (False, True):
                w.add(f"cx_{name}_{axes}_{kd}", [c128], R(name, X, axes, kd))
        w.add(f"cx_{name}_c64", [c64], R(name, X, [0]))
    w.add("cx_sum_empty", [(np.zeros((0, 3), np.complex64), [1, 2])], R("sum", X, [0]))
    w.add("cx_mean_empty", [(np.zeros((0, 3), np.complex128), [1, 2])], R("mean", X, [0]))
    sq = (cplx((4, 5), np.complex128), [3, 2])
    w.add("cx_matmul", [c128, sq], N("matmul", X, Y))
    w.add("cx_matmul_real_b", [c64, (rng.standard_normal((4, 3)).astype(np.float32), [2, 2])], N("matmul", X, Y))
    w.add("cx_dot_vec", [row, row], N("dot", X, Y))
    w.add("cx_tensordot", [c128, sq], N("tensordot", X, Y, aa=[1], ab=[0]))
    math_cases(w, Node, rng, cplx)
    order_cases(w, Node, rng)
    fft_cases(w, Node, rng)


def math_cases(w, Node, rng, cplx):
    """exp, log, sqrt, sin, cos, tanh, power, rint, round, isnan / isinf / isfinite, prod, var, std, any,
    all of complex arrays, special values included: the tables' results within a few ulp (C99's functions of
    another libm may round otherwise) with NaN, infinities and the signs of zeros exact."""
    X, Y = Node("in", k=0), Node("in", k=1)

    def N(op, *k, **p):
        return Node(op, k, **p)

    def R(name, x, axes=None, keepdims=False, ddof=0):
        return Node("reduce", [x], name=name, axes=axes, keepdims=keepdims, ddof=ddof)

    def table(parts, dt):
        with np.errstate(all="ignore"):
            return np.array([complex(a, b) for a in parts for b in parts], dt)

    sp64 = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, np.inf, -np.inf, np.nan, 1e308, -1e308, 1e-310, 710.0, -710.0,
            89.0, 3.0]
    sp32 = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-40, 89.0, -89.0, 3.0]
    t128 = (table(sp64, np.complex128), [37])
    t64 = (table(sp32, np.complex64), [29])
    exact128, exact64 = (0.0, 1e-14), (0.0, 2e-6)  # a few ulp
    c128 = (cplx((5, 4), np.complex128) * 3, [2, 3])
    c64 = (cplx((5, 4), np.complex64), [3, 4])
    big = (np.array([1e308 + 1e308j, -1e308 + 1e-300j, 1e300 - 1e308j, 5e-324 + 5e-324j, 1e-310j]), [2])
    for op in ("exp", "log", "sqrt", "sin", "cos", "tanh"):
        w.add(f"cx_{op}_c128", [c128], N(op, X))
        w.add(f"cx_{op}_c64", [c64], N(op, X))
        w.add(f"cx_{op}_specials_c128", [t128], N(op, X), tol=exact128, signs=True)
        w.add(f"cx_{op}_specials_c64", [t64], N(op, X), tol=exact64, signs=True)
        w.add(f"cx_{op}_huge", [big], N(op, X), tol=exact128, signs=True)
        w.add(f"cx_{op}_of_sum", [c64, c64], N(op, N("add", X, Y)))
    w.add("cx_sqrt_branch_cut", [(np.array([-1 - 0j, complex(-1, -0.0), complex(-4, 0), complex(-0.0, -0.0)]),
                                  [3])], N("sqrt", X), tol=exact128, signs=True)
    w.add("cx_log_branch_cut", [(np.array([complex(-1, -0.0), complex(-1, 0), complex(-0.0, 0), 0j]), [2])],
          N("log", X), tol=exact128, signs=True)
    # power: complex and real exponents, NEP 50 dtypes, special bases and exponents
    row = (cplx((4,), np.complex128), [3])
    ints = (np.array([-3, 0, 2, 7], np.int32), [3])
    f64 = (rng.standard_normal((5, 4)), [5, 2])
    w.add("cx_pow_c128_c128", [c128, c128], N("pow", X, N("mul", Y, Node("float", v=0.3))))
    w.add("cx_pow_c64_row", [c64, row], N("pow", X, Y))
    w.add("cx_pow_c64_i32", [c64, ints], N("pow", X, Y))
    w.add("cx_pow_c64_pyint", [c64], N("pow", X, Node("int", v=3)))
    w.add("cx_pow_c64_pyint_neg", [c64], N("pow", X, Node("int", v=-5)))
    w.add("cx_pow_c64_pyfloat", [c64], N("pow", X, Node("float", v=0.5)))
    w.add("cx_pow_c64_pycomplex", [c64], N("pow", X, Node("cscalar", v=complex(0.5, -1.5))))
    w.add("cx_pow_f64_c64", [f64, c64], N("pow", X, Y))
    w.add("cx_pow_pycomplex_f64", [f64], N("pow", Node("cscalar", v=complex(0, 1)), X))
    bases = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, np.inf, -np.inf, np.nan, 1e300, 3.0]
    exps = [0, complex(0, -0.0), 1, 2, 3, -1, -2, 7, 99, -99, 100, 0.5, 2.5 + 1j, 1j, -1 + 0.5j, np.nan,
            complex(np.inf, 0), complex(0, np.nan)]
    pb = table(bases, np.complex128)
    pe = np.array(exps, np.complex128)
    w.add("cx_pow_specials", [(np.repeat(pb, len(pe)), [50]), (np.tile(pe, len(pb)), [61])], N("pow", X, Y),
          tol=exact128, signs=True)
    with np.errstate(over="ignore"):
        pb64 = np.repeat(pb, len(pe)).astype(np.complex64)
    w.add("cx_pow_specials_c64", [(pb64, [50]),
                                  (np.tile(pe, len(pb)).astype(np.complex64), [61])], N("pow", X, Y),
          tol=exact64, signs=True)
    # rint, round, classification
    w.add("cx_rint_specials", [t128], N("rint", X), signs=True)
    w.add("cx_rint_c64", [(c64[0] * 4, [3, 4])], N("rint", X), signs=True)
    w.add("cx_round_2", [(np.round(c128[0] * 100) / 100 + 0.001, [2, 3])], N("round", X, d=2), signs=True)
    w.add("cx_round_specials", [t128], N("round", X, d=1), signs=True)
    for op in ("isnan", "isinf", "isfinite"):
        w.add(f"cx_{op}_specials", [t128], N(op, X))
        w.add(f"cx_{op}_specials_c64", [t64], N(op, X))
    # reductions
    c3 = (cplx((4, 5, 3), np.complex128), [3, 2, 2])
    for axes in (None, [0], [1], [2], [0, 2], [0, 1, 2]):
        for kd in (False, True):
            w.add(f"cx_prod_{axes}_{kd}", [c3], R("prod", X, axes, kd))
            w.add(f"cx_var_{axes}_{kd}", [c3], R("var", X, axes, kd))
            w.add(f"cx_std_{axes}_{kd}", [c3], R("std", X, axes, kd, ddof=1))
        w.add(f"cx_any_{axes}", [c3], R("any", N("mul", X, N("astype", N("gt", N("real", X), Node("float", v=0.3)),
                                                               dt="float64")), axes))
        w.add(f"cx_all_{axes}", [c3], R("all", N("mul", X, N("astype", N("gt", N("real", X), Node("float", v=-1.0)),
                                                               dt="float64")), axes))
    for name in ("prod", "var", "std"):
        w.add(f"cx_{name}_c64", [(c3[0].astype(np.complex64), [2, 5, 2])], R(name, X, [1]))
        w.add(f"cx_{name}_empty", [(np.zeros((0, 3), np.complex64), [1, 2])], R(name, X, [0]))
        w.add(f"cx_{name}_empty_other", [(np.zeros((0, 3), np.complex128), [1, 2])], R(name, X, [1]))
        w.add(f"cx_{name}_0d", [(np.array(2 - 3j), [])], R(name, X))
    w.add("cx_var_ddof2", [c128], R("var", X, [0], ddof=2))
    w.add("cx_prod_specials", [(table(sp64[:9], np.complex128).reshape(9, 9), [4, 9])], R("prod", X, [1]),
          tol=exact128, signs=True)
    w.add("cx_var_specials", [(table(sp64[:9], np.complex128).reshape(9, 9), [4, 4])], R("var", X, [1]))
    w.add("cx_any_specials", [(table(sp64[:9], np.complex128).reshape(9, 9), [4, 4])], R("any", X, [0]))
    w.add("cx_all_specials", [(table(sp64[:9], np.complex128).reshape(9, 9), [4, 4])], R("all", X, [1]))


def order_cases(w, Node, rng):
    """NumPy's lexicographic order of complex values (real part first; NaN in either part: comparisons
    false, minimum / maximum / min / max / argmin / argmax give the first NaN), clip, and the NaN-skipping
    reductions (nanmin / nanmax as fmin / fmax, nanargmin with NaN as inf + 0j) and scans: values with
    ties in the real part, NaN and inf in either part, ragged chunks, empty arrays."""
    X, Y = Node("in", k=0), Node("in", k=1)

    def N(op, *k, **p):
        return Node(op, k, **p)

    def R(name, x, axes=None, keepdims=False, ddof=0):
        return Node("reduce", [x], name=name, axes=axes, keepdims=keepdims, ddof=ddof)

    def part(shape, pnan, pinf):
        v = rng.integers(-2, 3, shape).astype(np.float64)
        v = np.where(rng.random(shape) < 0.3, rng.standard_normal(shape), v)
        v = np.where(rng.random(shape) < pinf, rng.choice([np.inf, -np.inf], shape), v)
        return np.where(rng.random(shape) < pnan, np.nan, v)

    def vals(shape, dt=np.complex128, pnan=0.04, pinf=0.05):
        return (part(shape, pnan, pinf) + 1j * part(shape, pnan, pinf)).astype(dt)

    a = (vals((7, 6)), [3, 4])
    b = (vals((7, 6)), [5, 2])
    a64 = (vals((7, 6), np.complex64), [4, 5])
    r32 = (part((6,), 0.1, 0.1).astype(np.float32), [4])
    sp = [0, -1.0, 1.0, np.inf, -np.inf, np.nan]
    t1 = np.array([complex(x, y) for x in sp for y in sp], np.complex128)
    tx = (np.repeat(t1, len(t1)), [31])
    ty = (np.tile(t1, len(t1)), [47])
    for op in ("lt", "le", "gt", "ge", "minimum", "maximum"):
        w.add(f"cx_{op}_c128_c128", [a, b], N(op, X, Y), signs=True)
        w.add(f"cx_{op}_specials", [tx, ty], N(op, X, Y), signs=True)
        w.add(f"cx_{op}_c64_f32", [a64, r32], N(op, X, Y), signs=True)
        w.add(f"cx_{op}_f32_c64", [r32, a64], N(op, X, Y), signs=True)
        w.add(f"cx_{op}_c64_pyfloat", [a64], N(op, X, Node("float", v=1.0)), signs=True)
        w.add(f"cx_{op}_c64_pycomplex", [a64], N(op, X, Node("cscalar", v=complex(0, -1))), signs=True)
        w.add(f"cx_{op}_empty", [(np.zeros((0, 3), np.complex64), [1, 2]), a64], N(op, X, N("slice", Y, spec=":0,:3")))
    for lo, hi in ((0.5, 2.0), (-1.0, 1.0), (np.nan, 2.0), (1.0, np.nan), (3.0, 1.0), (-np.inf, np.inf)):
        w.add(f"cx_clip_{lo}_{hi}", [a], Node("clip", [X], lo=lo, hi=hi), signs=True)
        w.add(f"cx_clip_c64_{lo}_{hi}", [a64], Node("clip", [X], lo=lo, hi=hi), signs=True)
    w.add("cx_clip_specials", [tx], Node("clip", [X], lo=0.0, hi=1.0), signs=True)
    w.add("cx_floor_divide_refused", [a, b], N("floor_divide", X, Y))
    w.add("cx_mod_refused", [a, b], N("mod", X, Y))
    # reductions: with NaN in some slices (the first NaN wins), without NaN (ties in the real part)
    c3 = (vals((5, 6, 4), pnan=0.02, pinf=0.05), [2, 4, 3])
    c3n = (vals((5, 6, 4), pnan=0.0, pinf=0.05), [3, 5, 4])
    c3a = (vals((5, 6, 4), pnan=0.5, pinf=0.05), [4, 4, 3])  # all-NaN slices likely
    m64 = (vals((9, 5), np.complex64), [4, 2])
    ragged = (vals((13,)), [5])
    for tag, x in (("nan", c3), ("nonan", c3n), ("halfnan", c3a)):
        for axes in (None, [0], [1], [2], [0, 2], [1, 2]):
            for kd in (False, True):
                for name in ("min", "max"):
                    w.add(f"cx_{name}_{tag}_{axes}_{kd}", [x], R(name, X, axes, kd), signs=True)
                if axes is None or len(axes) == 1:
                    for name in ("argmin", "argmax"):
                        w.add(f"cx_{name}_{tag}_{axes}_{kd}", [x], R(name, X, axes, kd))
    for name in ("min", "max", "argmin", "argmax"):
        w.add(f"cx_{name}_c64", [m64], R(name, X, [0]), signs=True)
        w.add(f"cx_{name}_ragged", [ragged], R(name, X), signs=True)
        w.add(f"cx_{name}_specials", [tx], R(name, X), signs=True)
        w.add(f"cx_{name}_0d", [(np.array(complex(2, np.nan)), [])], R(name, X), signs=True)
        w.add(f"cx_{name}_empty", [(np.zeros((0, 3), np.complex128), [1, 2])], R(name, X, [0]))
        w.add(f"cx_{name}_empty_other", [(np.zeros((0, 3), np.complex128), [1, 2])], R(name, X, [1]))
        w.add(f"cx_{name}_of_sum", [a, b], R(name, N("add", X, Y), [1]))
    nan_cases(w, Node, R, vals, c3, c3a, m64, ragged)
    # sort: NumPy's order, the values with a NaN part last (real and NaN, NaN and real, both NaN);
    # -0.0 and 0.0 are equal (either may come first), so signs are not compared
    for tag, x in (("nan", c3), ("nonan", c3n), ("halfnan", c3a)):
        for ax in (0, 1, 2, -1):
            w.add(f"cx_sort_{tag}_{ax}", [x], Node("sort", [X], axis=ax))
    w.add("cx_sort_c64", [m64], Node("sort", [X], axis=0))
    w.add("cx_sort_c64_rows", [m64], Node("sort", [X], axis=1))
    w.add("cx_sort_ragged", [ragged], Node("sort", [X], axis=0))
    w.add("cx_sort_specials", [tx], Node("sort", [X], axis=0))
    w.add("cx_sort_long_lane", [(vals((300,), pnan=0.1), [70])], Node("sort", [X], axis=0))
    w.add("cx_sort_empty", [(np.zeros((0, 3), np.complex128), [1, 2])], Node("sort", [X], axis=0))
    w.add("cx_sort_of_sum", [a, b], Node("sort", [N("add", X, Y)], axis=1))
    # topk / argtopk: the same order, NaN parts the largest; ties to the smaller index (gen.topk)
    for tag, x in (("nan", c3), ("nonan", c3n), ("halfnan", c3a)):
        for ax in (0, 1, 2, -1):
            n = x[0].shape[ax]
            for k in sorted({1, 2, n, -1, -2, -n}):
                for op in ("topk", "argtopk"):
                    w.add(f"cx_{op}_{tag}_{ax}_{k}", [x], Node(op, [X], k=k, axis=ax))
    for op in ("topk", "argtopk"):
        w.add(f"cx_{op}_c64", [m64], Node(op, [X], k=3, axis=0))
        w.add(f"cx_{op}_c64_rows", [m64], Node(op, [X], k=-4, axis=1))
        w.add(f"cx_{op}_ragged", [ragged], Node(op, [X], k=6, axis=0))
        w.add(f"cx_{op}_specials", [tx], Node(op, [X], k=-(tx[0].shape[0] // 2), axis=0))
        w.add(f"cx_{op}_long_lane", [(vals((300,), pnan=0.1), [20])], Node(op, [X], k=17, axis=0))
        w.add(f"cx_{op}_long_lane_small", [(vals((300,), pnan=0.1), [20])], Node(op, [X], k=-40, axis=0))
        w.add(f"cx_{op}_of_sum", [a, b], Node(op, [N("add", X, Y)], k=2, axis=1))


def nan_cases(w, Node, R, vals, c3, c3a, m64, ragged):
    """The NaN-skipping reductions and the scans of complex arrays."""
    X = Node("in", k=0)
    # the NaN-skipping reductions
    # (products of infinities: dtx multiplies in another order than NumPy, so inf * 0 may come first)
    c3f = (vals((5, 6, 4), pnan=0.1, pinf=0.0), [2, 4, 3])
    for tag, x in (("nan", c3), ("halfnan", c3a), ("finite", c3f)):
        for axes in (None, [0], [2], [0, 1]):
            for kd in (False, True):
                for name in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmin", "nanmax"):
                    if name == "nanprod" and tag != "finite":
                        continue
                    w.add(f"cx_{name}_{tag}_{axes}_{kd}", [x], R(name, X, axes, kd), signs=name in ("nanmin", "nanmax"))
    for axes in (None, [0], [1], [2]):
        for kd in (False, True):
            for name in ("nanargmin", "nanargmax"):
                w.add(f"cx_{name}_{axes}_{kd}", [c3], R(name, X, axes, kd))
    allnan = np.array([[complex(np.nan, 1), complex(2, np.nan)], [1 + 1j, complex(np.inf, 5)],
                       [complex(np.nan, np.nan), complex(np.inf, -1)]])
    for name in ("nanargmin", "nanargmax"):  # documented: -1 for an all-NaN slice (NumPy raises)
        fill = np.inf if name == "nanargmin" else -np.inf  # NumPy's NaN replacement
        want = getattr(np, name[3:])(np.where(np.isnan(allnan), fill, allnan), axis=1)
        want[0] = -1
        w.add(f"cx_{name}_all_nan_slice", [(allnan, [2, 1])], R(name, X, [1]), want=want)
        w.add(f"cx_{name}_inf_ties", [(allnan[1:], [1, 1])], R(name, X, [0]))
    for name in ("nanmin", "nanmax", "nansum", "nanmean", "nanvar", "nanstd", "nanprod"):
        w.add(f"cx_{name}_all_nan_rows", [(allnan, [2, 1])], R(name, X, [1]), signs=name in ("nanmin", "nanmax"))
        w.add(f"cx_{name}_c64", [m64], R(name, X, [0]))
        w.add(f"cx_{name}_empty", [(np.zeros((0, 3), np.complex128), [1, 2])], R(name, X, [0]))
        w.add(f"cx_{name}_ddof", [c3f], R(name, X, [1], ddof=2))
    # scans (products of infinities over several chunks: dtx multiplies the chunks' totals first, so inf * 0
    # may come in another order than NumPy's; in one chunk the order is NumPy's)
    sp = [0, -1.0, 2.0, np.inf, -np.inf, np.nan]
    t1 = np.array([complex(x, y) for x in sp for y in sp], np.complex128)
    for name in ("cumsum", "nancumsum", "cumprod", "nancumprod"):
        x = c3 if "sum" in name else c3f
        for ax in (0, 1, -1):
            w.add(f"cx_{name}_{ax}", [x], Node("cum", [X], name=name, axis=ax))
        w.add(f"cx_{name}_specials_one_chunk", [(t1, [36])], Node("cum", [X], name=name, axis=0), signs=True)
        w.add(f"cx_{name}_c64", [m64], Node("cum", [X], name=name, axis=0))
        w.add(f"cx_{name}_ragged", [ragged], Node("cum", [X], name=name, axis=0))
        w.add(f"cx_{name}_random", [(vals((6, 9), pnan=0.0, pinf=0.0), [4, 2])], Node("cum", [X], name=name, axis=1))
        w.add(f"cx_{name}_empty", [(np.zeros((0, 3), np.complex128), [1, 2])], Node("cum", [X], name=name, axis=0))


def fft_cases(w, Node, rng):
    X = Node("in", k=0)

    def FT(name, x, n=None, axis=-1, norm="backward"):
        return Node("fft", [x], name=name, n=n, axis=axis, norm=norm)

    def FTN(name, x, s=None, axes=None, norm="backward"):
        return Node("fftn", [x], name=name, s=s, axes=axes, norm=norm)

    c = ((rng.standard_normal((6, 10)) + 1j * rng.standard_normal((6, 10))), [4, 10])
    ct = (c[0], [6, 3])  # one chunk along axis 0
    r = (rng.standard_normal((6, 10)), [4, 10])
    r32 = (r[0].astype(np.float32), [5, 10])
    c64 = (c[0].astype(np.complex64), [2, 10])
    i32 = ((rng.standard_normal((6, 10)) * 10).astype(np.int32), [3, 10])
    for name in ("fft", "ifft"):
        for norm in ("backward", "ortho", "forward"):
            w.add(f"fft_{name}_{norm}", [c], FT(name, X, norm=norm))
        w.add(f"fft_{name}_n_crop", [c], FT(name, X, n=7))
        w.add(f"fft_{name}_n_pad", [c], FT(name, X, n=13))
        w.add(f"fft_{name}_axis0", [ct], FT(name, X, axis=0))
        w.add(f"fft_{name}_real", [r], FT(name, X))
        w.add(f"fft_{name}_f32", [r32], FT(name, X))
        w.add(f"fft_{name}_c64", [c64], FT(name, X))
        w.add(f"fft_{name}_int32", [i32], FT(name, X))
    for norm in ("backward", "ortho", "forward"):
        w.add(f"fft_rfft_{norm}", [r], FT("rfft", X, norm=norm))
        w.add(f"fft_irfft_{norm}", [c], FT("irfft", X, norm=norm))
    for n in (7, 8, 16):
        w.add(f"fft_rfft_n{n}", [r], FT("rfft", X, n=n))
        w.add(f"fft_irfft_n{n}", [c], FT("irfft", X, n=n))
    w.add("fft_rfft_f32", [r32], FT("rfft", X))
    w.add("fft_irfft_c64", [c64], FT("irfft", X))
    w.add("fft_irfft_int32", [i32], FT("irfft", X))
    w.add("fft_rfft_complex_error", [c], FT("rfft", X))
    cube = ((rng.standard_normal((4, 6, 5)) + 1j * rng.standard_normal((4, 6, 5))), [3, 6, 5])
    cube1 = (cube[0], [4, 6, 5])
    rcube = (cube[0].real.copy(), [2, 6, 5])
    w.add("fft_fft2", [cube], FTN("fft2", X))
    w.add("fft_ifft2_ortho", [cube], FTN("ifft2", X, norm="ortho"))
    w.add("fft_fft2_s", [cube], FTN("fft2", X, s=[4, 7]))
    w.add("fft_fftn_all", [cube1], FTN("fftn", X))
    w.add("fft_fftn_axes_s", [cube], FTN("fftn", X, s=[3, 8], axes=[2, 1]))
    w.add("fft_ifftn_forward", [cube1], FTN("ifftn", X, norm="forward"))
    w.add("fft_rfftn", [rcube], FTN("rfftn", X, axes=[1, 2]))
    w.add("fft_irfftn", [cube], FTN("irfftn", X, axes=[1, 2]))
    w.add("fft_irfftn_s", [cube], FTN("irfftn", X, s=[6, 9], axes=[1, 2]))
