"""tests/array_conformance/index_cases.py - the named conformance cases of dtx/index.h.

take with integer indices (a list, or an integer array) along each axis, repeated, unsorted and
negative, none, and out of range (NumPy's IndexError); boolean-mask selection x[mask] in C order,
empty and full masks, then elementwise operations with scalars and reductions over the result
(a length unknown until computed); unique with repeats, NaN (collapsed), -0.0, and its index,
inverse (the input's shape, NumPy 2) and counts, of known arrays and of mask selections; take with
axis None (the flattened array). Every dtype, ragged chunks. Complex arrays: take, mask selection
and unique (NaN in either part, -0.0 parts, repeats); their unique values are numpy.unique's sorting
path (with return_counts), which keeps the least of the NaN values in NumPy's sort order where the
plain call's hash path may keep another (dtx/index.h). gen.py calls add() with its Writer and Node class, and compute() for these ops.
"""
import numpy as np

UNIQUE_ALL = ["unique_values", "unique_index", "unique_inverse", "unique_counts"]
OPS = {"take", "take_array", "mask", "unique"} | set(UNIQUE_ALL)
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
          "float64"]


def compute(op, p, kv):
    x = np.asarray(kv[0])
    if op == "take":
        return np.take(x, np.asarray(p["idx"], dtype=np.int64), axis=p["axis"])
    if op == "take_array":
        return np.take(x, np.asarray(kv[1]), axis=p["axis"])
    if op == "mask":
        m = np.asarray(kv[1])
        if m.dtype != bool:
            raise TypeError("the mask must be bool")
        return x[m]
    if op in UNIQUE_ALL:
        r = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
        return r[UNIQUE_ALL.index(op)]
    if x.dtype.kind == "c":  # the sorting path: which NaN is kept is its rule
        return np.unique(x, return_counts=True)[0]
    return np.unique(x)


def values(rng, dt, shape):
    v = rng.integers(-6, 7, size=shape)
    if dt == "bool":
        return v > 0
    if dt.startswith("u"):
        v = np.abs(v)
    if dt.startswith("float"):
        f = v + rng.integers(0, 4, size=shape) * 0.25
        f = np.where(rng.random(shape) < 0.1, np.nan, f)
        return np.where(rng.random(shape) < 0.05, -0.0, f).astype(dt)
    return v.astype(dt)


def add(w, Node):
    """dtx_take / dtx_take_array / dtx_mask_select / dtx_unique against NumPy."""
    def F(v):
        return Node("float", v=v)

    def N(op, *k, **p):
        return Node(op, k, **p)

    def R(name, x):
        return Node("reduce", [x], name=name, axes=None, keepdims=False, ddof=0)

    X, Y = Node("in", k=0), Node("in", k=1)
    rng = np.random.default_rng(4242)
    for dt in DTYPES:
        a = (values(rng, dt, (7, 5)), [3, 2])
        w.add(f"ix_take_axis0_{dt}", [a], N("take", X, idx=[6, 0, -1, 3, 3, -7, 2], axis=0))
        w.add(f"ix_take_axis1_{dt}", [a], N("take", X, idx=[4, 4, -5, 1], axis=1))
        w.add(f"ix_take_array_{dt}", [a, (np.array([1, -2, 1, 0, 6], np.int32), [2])],
              N("take_array", X, Y, axis=0))
        m = (rng.random((7, 5)) < 0.4, [2, 5])
        w.add(f"ix_mask_{dt}", [a, m], N("mask", X, Y))
        w.add(f"ix_unique_{dt}", [a], N("unique", X))
        w.add(f"ix_unique_1d_{dt}", [(values(rng, dt, (40,)), [7])], N("unique", X))
        for o in UNIQUE_ALL:
            w.add(f"ix_{o}_{dt}", [a], N(o, X))
            w.add(f"ix_{o}_mask_{dt}", [a, m], N(o, N("mask", X, Y)))
        w.add(f"ix_take_flat_{dt}", [a], N("take", X, idx=[34, 0, -1, 17, 17, -35, 5], axis=None))
        w.add(f"ix_take_array_flat_{dt}", [a, (np.array([[1, -2, 30], [0, 6, 12]], np.int16), [1, 2])],
              N("take_array", X, Y, axis=None))
    f = (np.array([[1.5, -2.0, np.nan, 4.0], [0.0, 3.0, -1.0, np.nan], [2.0, 2.0, 8.0, -0.5]]), [2, 3])
    w.add("ix_mask_gt0", [f], N("mask", X, N("gt", X, F(0.0))))
    w.add("ix_mask_gt0_times2_plus1", [f], N("add", N("mul", N("mask", X, N("gt", X, F(0.0))), F(2.0)), F(1.0)))
    w.add("ix_mask_sum", [f], R("sum", N("mask", X, N("gt", X, F(0.0)))))
    w.add("ix_mask_max", [f], R("max", N("mask", X, N("gt", X, F(0.0)))))
    w.add("ix_mask_mean_minus_x", [f], N("sub", X, R("mean", N("mask", X, N("gt", X, F(0.0))))))
    w.add("ix_mask_none_sum", [f], R("sum", N("mask", X, N("gt", X, F(100.0)))))
    w.add("ix_mask_none_max_error", [f], R("max", N("mask", X, N("gt", X, F(100.0)))))
    w.add("ix_mask_all", [f], N("mask", X, N("eq", X, X)))
    w.add("ix_mask_f32_exp", [(np.linspace(-2, 2, 9, dtype=np.float32), [4])],
          N("exp", N("mask", X, N("lt", X, F(0.5)))))
    w.add("ix_mask_i32_count", [(np.arange(-5, 6, dtype=np.int32), [3])],
          R("sum", N("astype", N("mask", X, N("ge", X, Node("int", v=2))), dt="bool")))
    w.add("ix_mask_0d", [(np.array(3.5), []), (np.array(True), [])], N("mask", X, Y))
    w.add("ix_mask_not_bool_error", [f, (np.ones((3, 4), np.int32), [3, 4])], N("mask", X, Y))
    w.add("ix_mask_shape_error", [f, (np.ones((4, 3), bool), [2, 2])], N("mask", X, Y))
    w.add("ix_unique_nan_negzero", [(np.array([np.nan, 1.0, -0.0, np.nan, 0.0, 1.0], np.float32), [4])],
          N("unique", X))
    w.add("ix_unique_of_expression", [(np.arange(20, dtype=np.int64), [6])],
          N("unique", N("pow", N("sub", X, Node("int", v=10)), Node("int", v=2))))
    w.add("ix_unique_empty", [(np.zeros((0, 3), np.uint16), [1, 2])], N("unique", X))
    w.add("ix_unique_sum", [(np.array([3, 1, 3, 2, 1], np.int16), [2])], R("sum", N("unique", X)))
    w.add("ix_unique_counts_sum", [f], R("sum", N("unique_counts", X)))
    w.add("ix_unique_inverse_0d", [(np.array(2.5), [])], N("unique_inverse", X))
    # complex: take along an axis (the pairs taken) and of the flattened array (axis None)
    for dt in (np.complex128, np.complex64):
        c = ((rng.standard_normal((7, 5)) + 1j * rng.standard_normal((7, 5))).astype(dt), [3, 2])
        tag = np.dtype(dt).name
        w.add(f"ix_take_axis0_{tag}", [c], N("take", X, idx=[6, 0, -1, 3, 3, -7, 2], axis=0))
        w.add(f"ix_take_axis1_{tag}", [c], N("take", X, idx=[4, 4, -5, 1], axis=1))
        w.add(f"ix_take_array_{tag}", [c, (np.array([1, -2, 1, 0, 6], np.int32), [2])],
              N("take_array", X, Y, axis=0))
        w.add(f"ix_take_empty_{tag}", [c], N("take", X, idx=[], axis=1))
        w.add(f"ix_take_flat_{tag}", [c], N("take", X, idx=[34, 0, -1, 17, 17, -35, 5], axis=None))
        w.add(f"ix_take_array_flat_{tag}", [c, (np.array([[1, -2, 30], [0, 6, 12]], np.int16), [1, 2])],
              N("take_array", X, Y, axis=None))
    for dt in ("complex128", "complex64"):
        part = "float64" if dt == "complex128" else "float32"
        for shape, ch in (((7, 5), [3, 2]), ((40,), [7])):
            c = (values(rng, part, shape) + 1j * values(rng, part, shape)).astype(dt)
            c.imag[rng.random(shape) < 0.05] = -0.0  # (x, -0) beside (x, 0)
            a = (c, ch)
            tag = f"{dt}_{len(shape)}d"
            m = (rng.random(shape) < 0.5, ch[::-1] if len(ch) == 2 else [5])
            w.add(f"ix_mask_{tag}", [a, m], N("mask", X, Y))
            w.add(f"ix_unique_{tag}", [a], N("unique", X))
            w.add(f"ix_unique_mask_{tag}", [a, m], N("unique", N("mask", X, Y)))
            for o in UNIQUE_ALL:
                w.add(f"ix_{o}_{tag}", [a], N(o, X))
                w.add(f"ix_{o}_mask_{tag}", [a, m], N(o, N("mask", X, Y)))
        nan = np.nan
        z = np.array([complex(nan, 1), 1 + 2j, complex(1, nan), complex(nan, nan), -0.0 + 0j, 0j,
                      complex(2, nan), complex(nan, 0), 1 + 2j, complex(0, -0.0), complex(1, nan)], dt)
        for o in ["unique"] + UNIQUE_ALL:
            w.add(f"ix_{o}_nan_parts_{dt}", [(z, [4])], N(o, X))
        w.add(f"ix_mask_0d_{dt}", [(np.array(1.5 - 2j, dt), []), (np.array(True), [])], N("mask", X, Y))
        w.add(f"ix_mask_none_{dt}", [(z, [4]), (np.zeros(11, bool), [3])], N("mask", X, Y))
        w.add(f"ix_unique_empty_{dt}", [(np.zeros((0, 2), dt), [1, 2])], N("unique", X))
    w.add("ix_unique_index_empty", [(np.zeros((0, 3), np.float32), [1, 2])], N("unique_index", X))
    w.add("ix_unique_inverse_empty", [(np.zeros((0, 3), np.float32), [1, 2])], N("unique_inverse", X))
    w.add("ix_take_flat_0d", [(np.array(7, np.int32), [])], N("take", X, idx=[0, -1, 0], axis=None))
    w.add("ix_take_flat_out_of_range_error", [f], N("take", X, idx=[0, 12], axis=None))
    w.add("ix_take_out_of_range_error", [f], N("take", X, idx=[0, 3], axis=0))
    w.add("ix_take_negative_out_of_range_error", [f], N("take", X, idx=[-5], axis=1))
    w.add("ix_take_none", [f], N("take", X, idx=[], axis=1))
    w.add("ix_take_empty_array", [(np.zeros((0, 4), np.int8), [1, 2])], N("take", X, idx=[1, 3], axis=1))
