"""tests/array_conformance/dtype_cases.py - the named conformance cases of the dtypes of issue 11.

int8 .. uint64 and float16: promotion, Python scalars out of range, wrapping, float16 edges
(the largest half, subnormals, -0, inf, NaN, rounding), the dtypes of float functions and
reductions, uint64 min / max above INT64_MAX, products, arange-free creation. gen.py calls add()
with its Writer and Node class.
"""
import numpy as np


def add(w, Node):
    """The dtypes of issue 11 (int8 .. uint64, float16): promotion, Python scalars, wrapping, edges."""
    def I(v):
        return Node("int", v=v)

    def F(v):
        return Node("float", v=v)

    def N(op, *k, **p):
        return Node(op, k, **p)

    def R(name, x):
        return Node("reduce", [x], name=name, axes=None, keepdims=False, ddof=0)

    X, Y = Node("in", k=0), Node("in", k=1)
    u8 = (np.array([0, 1, 200, 255, 7], np.uint8), [2])
    i8 = (np.array([-128, -1, 0, 1, 127], np.int8), [3])
    i16 = (np.array([-32768, -1, 0, 300, 32767], np.int16), [2])
    u16 = (np.array([0, 1, 65535, 300, 40000], np.uint16), [4])
    u32 = (np.array([0, 1, 2**32 - 1, 300, 2**31], np.uint32), [2])
    u64 = (np.array([0, 1, 2**64 - 1, 2**63, 2**63 - 1], np.uint64), [2])
    i64 = (np.array([0, -1, 2**63 - 1, -2**63, 5], np.int64), [3])
    h = (np.array([0.0, -0.0, 65504.0, -65504.0, 6e-8, 2.0**-14, np.inf, np.nan, 1.0, 0.1], np.float16), [4])
    bb = (np.array([True, False, True, False]), [3])
    bc = (np.array([True, True, False, False]), [1])
    c64 = (np.array([1, 2, 3, 4, 5], np.float16), [2])
    w.add("dt_u8_plus_300_error", [u8], N("add", X, I(300)))
    w.add("dt_u8_plus_neg1_error", [u8], N("add", X, I(-1)))
    w.add("dt_u8_eq_300", [u8], N("eq", X, I(300)))
    w.add("dt_u8_lt_neg1", [u8], N("lt", X, I(-1)))
    w.add("dt_u64_eq_neg1", [u64], N("eq", X, I(-1)))
    w.add("dt_i8_plus_1p5", [i8], N("add", X, F(1.5)))
    w.add("dt_i8_plus_1", [i8], N("add", X, I(1)))
    w.add("dt_i8_mul_wraps", [i8], N("mul", X, I(3)))
    w.add("dt_u8_sub_wraps", [u8], N("sub", X, I(7)))
    w.add("dt_u8_neg_wraps", [u8], N("neg", X))
    w.add("dt_i8_abs_min", [i8], N("abs", X))
    w.add("dt_u64_plus_i64", [u64, i64], N("add", X, Y))
    w.add("dt_u64_plus_7", [u64], N("add", X, I(7)))
    w.add("dt_u8_plus_i8", [u8, i8], N("add", X, Y))
    w.add("dt_u16_plus_i16", [u16, i16], N("add", X, Y))
    w.add("dt_u32_plus_i8", [u32, i8], N("add", X, Y))
    w.add("dt_u8_plus_f16", [u8, (h[0][:5], [2])], N("add", X, Y))
    w.add("dt_i16_times_f16", [i16, (h[0][:5], [2])], N("mul", X, Y))
    w.add("dt_f16_times_2", [h], N("mul", X, F(2.0)))
    w.add("dt_f16_plus_1e10_inf", [h], N("add", X, F(1e10)))
    w.add("dt_f16_neg", [h], N("neg", X))
    w.add("dt_f16_abs", [h], N("abs", X))
    w.add("dt_f16_div", [h, (h[0][::-1].copy(), [3])], N("div", X, Y))
    w.add("dt_f16_sqrt", [(h[0][[0, 1, 4, 5, 6, 7, 8, 9]], [3])], N("sqrt", X))
    w.add("dt_f16_exp", [c64], N("exp", X))
    w.add("dt_f16_minimum_nan", [h, (h[0][::-1].copy(), [3])], N("minimum", X, Y))
    w.add("dt_f16_lt", [h, (h[0][::-1].copy(), [3])], N("lt", X, Y))
    w.add("dt_f16_to_i16", [(np.array([1.5, -2.5, 300, -0.0], np.float16), [2])], N("astype", X, dt="int16"))
    w.add("dt_f64_to_f16_rounding", [(np.array([65519.99, 65520.0, 2.0**-25, 2.0**-25 * 1.0001, 1 + 2.0**-11,
                                               1 + 3 * 2.0**-11, 1e-9, -1e6], np.float64), [3])],
          N("astype", X, dt="float16"))
    w.add("dt_i32_to_f16", [(np.array([65504, 65519, 65520, 2049, 2051, -70000], np.int32), [4])],
          N("astype", X, dt="float16"))
    w.add("dt_i8_to_u8", [i8], N("astype", X, dt="uint8"))
    w.add("dt_u64_to_i8", [u64], N("astype", X, dt="int8"))
    w.add("dt_u64_to_f32", [u64], N("astype", X, dt="float32"))
    w.add("dt_exp_i8_is_f16", [i8], N("exp", N("div", X, I(64))))
    w.add("dt_sqrt_u8_is_f16", [u8], N("sqrt", X))
    w.add("dt_sqrt_u16_is_f32", [u16], N("sqrt", X))
    w.add("dt_sin_bool_is_f16", [bb], N("sin", X))
    w.add("dt_bool_pow_bool", [bb, bc], N("pow", X, Y))
    w.add("dt_i8_pow", [i8], N("pow", X, I(3)))
    w.add("dt_u8_pow", [u8], N("pow", X, I(2)))
    w.add("dt_sum_u8_is_u64", [u8], R("sum", X))
    w.add("dt_sum_i8_is_i64", [i8], R("sum", X))
    w.add("dt_prod_u16", [u16], R("prod", X))
    w.add("dt_mean_u8", [u8], R("mean", X))
    w.add("dt_min_u64", [u64], R("min", X))
    w.add("dt_max_u64", [u64], R("max", X))
    w.add("dt_argmax_u64", [u64], R("argmax", X))
    w.add("dt_argmin_u64", [u64], R("argmin", X))
    w.add("dt_max_i8", [i8], R("max", X))
    w.add("dt_max_f16", [(h[0][[0, 1, 2, 4, 5, 8, 9]], [2])], R("max", X))
    w.add("dt_sum_f16", [c64], R("sum", X))
    w.add("dt_dot_i8_wraps", [(np.array([100, 100, 3], np.int8), [2]), (np.array([2, 1, 1], np.int8), [1])],
          N("dot", X, Y))
    w.add("dt_matmul_u8", [(np.arange(6, dtype=np.uint8).reshape(2, 3) * 40, [1, 2]),
                           (np.arange(6, dtype=np.uint8).reshape(3, 2), [2, 1])], N("matmul", X, Y))
    w.add("dt_matmul_f16", [(np.arange(6, dtype=np.float16).reshape(2, 3) / 3, [2, 3]),
                            (np.arange(6, dtype=np.float16).reshape(3, 2), [3, 2])], N("matmul", X, Y))
    w.add("dt_full_u64_big", [], Node("full", dt="uint64", v=2.0**63 + 2048, shape=[3]))
    w.add("dt_where_u8_i8", [bb, (u8[0][:4], [2]), (i8[0][:4], [3])], N("where", X, Y, Node("in", k=2)))
    w.add("dt_concat_u8_i8", [u8, i8], N("concat", X, Y, axis=0))
    w.add("dt_compute_u8_into_i8_error", [u8], X, buf="int8")
