/*
 * tests/array_empty_test.cc - arrays with zero-length axes (issue 11): made
 * with a 0 in the shape, by arange / linspace of no values, by slices that
 * select nothing (bounds clamped as in Python), read from .npy files; and
 * what elementwise operations, broadcasting, reductions (NumPy's identities,
 * NaN, or the error where there is none), concatenate, stack, rechunk,
 * transpose and matmul make of them. Under sync, threads and the cluster
 * scheduler on sim:1..4.
 */
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <string>

#include "array_util.h"

using namespace dtxa_test;

namespace {

class ArrayEmpty : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayEmpty, ::testing::ValuesIn(AllScheds()), SchedName());

::testing::AssertionResult FailsWith(dtx_array *a, const std::string &needle) {
  if (a != nullptr)
    return ::testing::AssertionFailure() << "made an array; expected an error with '" << needle << "'";
  std::string e = dtx_last_error();
  if (e.find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "error '" << e << "' does not mention '" << needle << "'";
  return ::testing::AssertionSuccess();
}

/* a is empty with this shape and dtype, and computes into a NULL buffer of 0 bytes */
::testing::AssertionResult IsEmpty(const dtx_array *a, const std::vector<int64_t> &shape, dtx_dtype t) {
  if (a == nullptr) return ::testing::AssertionFailure() << "NULL: " << dtx_last_error();
  if (Shape(a) != shape)
    return ::testing::AssertionFailure() << "shape " << ShapeStr(Shape(a)) << " != " << ShapeStr(shape);
  if (dtx_array_dtype(a) != t)
    return ::testing::AssertionFailure() << "dtype " << dtx_dtype_name(dtx_array_dtype(a));
  if (dtx_array_size(a) != 0 || dtx_array_nbytes(a) != 0)
    return ::testing::AssertionFailure() << "size " << dtx_array_size(a);
  dtx_status rc = dtx_array_compute_as(a, t, nullptr, 0);
  if (rc != DTX_OK) return ::testing::AssertionFailure() << "compute: " << dtx_last_error();
  return ::testing::AssertionSuccess();
}

Nd Want(dtx_dtype t, std::vector<int64_t> shape, std::vector<double> v) {
  Nd n;
  n.t = t;
  n.shape = std::move(shape);
  n.v = std::move(v);
  return n;
}

}  // namespace

TEST_P(ArrayEmpty, CreationAndCompute) {
  Scope sc;
  const int64_t s[3] = {4, 0, 3}, c[3] = {2, 5, 2};
  dtx_array *z = dtx_zeros(cl(), 3, s, c, DTX_F64);
  EXPECT_TRUE(IsEmpty(z, {4, 0, 3}, DTX_F64));
  EXPECT_EQ(dtx_array_numblocks(z, 0), 2);
  EXPECT_EQ(dtx_array_numblocks(z, 1), 0); /* an empty axis has no chunks */
  EXPECT_GE(dtx_array_chunk(z, 1), 1);
  EXPECT_TRUE(IsEmpty(dtx_ones(cl(), 1, (const int64_t[]){0}, nullptr, DTX_I32), {0}, DTX_I32));
  EXPECT_TRUE(
      IsEmpty(dtx_random_uniform(cl(), 2, (const int64_t[]){0, 7}, nullptr, DTX_F32, 3), {0, 7}, DTX_F32));
  EXPECT_TRUE(IsEmpty(dtx_arange(cl(), 5, 0, 1, 4, DTX_I64), {0}, DTX_I64));
  EXPECT_TRUE(IsEmpty(dtx_arange(cl(), 0, 5, -1, 4, DTX_F64), {0}, DTX_F64));
  EXPECT_TRUE(IsEmpty(dtx_linspace(cl(), 0, 1, 0, 4, 1, DTX_F64), {0}, DTX_F64));
  EXPECT_TRUE(
      IsEmpty(dtx_from_host(cl(), 2, (const int64_t[]){3, 0}, nullptr, DTX_BOOL, nullptr, DTX_HOST_COPY),
              {3, 0}, DTX_BOOL));
  /* a NULL buffer is only right for an empty array */
  EXPECT_EQ(
      dtx_array_compute_as(dtx_ones(cl(), 1, (const int64_t[]){2}, nullptr, DTX_F64), DTX_F64, nullptr, 0),
      DTX_EINVAL);
  EXPECT_EQ(dtx_array_compute_as(z, DTX_F64, nullptr, 8), DTX_EINVAL);
  /* graph: no chunks, no tasks; persist: an empty array back */
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  dtx_task_id dummy = 0;
  EXPECT_EQ(dtx_array_graph(z, g, &dummy, 0, nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_graph_size(g), 0u);
  dtx_graph_destroy(g);
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(dtx_add(z, z), nullptr, &p), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(IsEmpty(p, {4, 0, 3}, DTX_F64));
  EXPECT_TRUE(IsEmpty(dtx_mul(p, dtx_scalar(cl(), 2.0)), {4, 0, 3}, DTX_F64));
  int no_where = DTX_WHERE_ANY; /* a `where` for no chunks */
  dtx_array *pw = nullptr;
  ASSERT_EQ(dtx_array_persist(z, &no_where, &pw), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(IsEmpty(dtx_array_keep(pw), {4, 0, 3}, DTX_F64));
  dtx_array_release(pw);
  /* negative lengths stay an error */
  EXPECT_TRUE(FailsWith(dtx_zeros(cl(), 1, (const int64_t[]){-1}, nullptr, DTX_F64), "shape[0] is -1"));
  EXPECT_TRUE(FailsWith(dtx_linspace(cl(), 0, 1, -2, 1, 1, DTX_F64), "num is -2"));
}

TEST_P(ArrayEmpty, SlicesClampAsPython) {
  Scope sc;
  Nd x = Want(DTX_I64, {10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  dtx_array *a = Put(cl(), x, {3});
  struct Case {
    int64_t start, stop, step;
    std::vector<double> want;
  } cases[] = {
      {5, 5, 1, {}},                     /* x[5:5] */
      {7, 3, 1, {}},                     /* start after stop */
      {3, 7, -1, {}},                    /* backwards the wrong way */
      {8, 100, 1, {8, 9}},               /* stop past the end */
      {100, 200, 1, {}},                 /* both past the end */
      {-100, 2, 1, {0, 1}},              /* start before the start */
      {100, DTX_NONE, -3, {9, 6, 3, 0}}, /* backwards from past the end */
      {DTX_NONE, -100, -4, {9, 5, 1}},   /* backwards to before the start */
      {-100, -50, 1, {}},                /* all before the start */
      {-100, DTX_NONE, -1, {}},          /* backwards from before the start */
      {DTX_NONE, DTX_NONE, 1, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(::testing::Message() << c.start << ":" << c.stop << ":" << c.step);
    dtx_index idx = {DTX_INDEX_SLICE, c.start, c.stop, c.step};
    dtx_array *y = dtx_slice(a, 1, &idx);
    ASSERT_NE(y, nullptr) << dtx_last_error();
    Nd want = Want(DTX_I64, {static_cast<int64_t>(c.want.size())}, c.want);
    if (c.want.empty())
      EXPECT_TRUE(IsEmpty(y, {0}, DTX_I64));
    else
      EXPECT_TRUE(SameNd(Get(y), want, 0));
  }
  dtx_index zero = {DTX_INDEX_SLICE, 1, 5, 0};
  EXPECT_TRUE(FailsWith(dtx_slice(a, 1, &zero), "slice step cannot be zero"));
  dtx_index out = {DTX_INDEX_INT, 10, 0, 0};
  EXPECT_TRUE(FailsWith(dtx_slice(a, 1, &out), "index 10 is out of range"));
  /* a slice of an empty array, and an integer index into one */
  dtx_index e = {DTX_INDEX_SLICE, 5, 5, 1};
  dtx_array *ea = dtx_slice(a, 1, &e);
  dtx_index again = {DTX_INDEX_SLICE, -3, 7, 2};
  EXPECT_TRUE(IsEmpty(dtx_slice(ea, 1, &again), {0}, DTX_I64));
  dtx_index first = {DTX_INDEX_INT, 0, 0, 0};
  EXPECT_TRUE(FailsWith(dtx_slice(ea, 1, &first), "out of range"));
}

TEST_P(ArrayEmpty, ElementwiseAndBroadcasting) {
  Scope sc;
  dtx_array *e = dtx_zeros(cl(), 2, (const int64_t[]){0, 3}, nullptr, DTX_I32);
  dtx_array *row = dtx_ones(cl(), 2, (const int64_t[]){1, 3}, nullptr, DTX_F32);
  dtx_array *col = dtx_ones(cl(), 2, (const int64_t[]){5, 1}, nullptr, DTX_F64);
  EXPECT_TRUE(IsEmpty(dtx_add(e, row), {0, 3}, DTX_F64));
  EXPECT_TRUE(IsEmpty(dtx_mul(row, e), {0, 3}, DTX_F64));
  EXPECT_TRUE(IsEmpty(dtx_exp(e), {0, 3}, DTX_F64));
  EXPECT_TRUE(IsEmpty(dtx_binary(DTX_LT, e, dtx_scalar_int(cl(), 2)), {0, 3}, DTX_BOOL));
  EXPECT_TRUE(IsEmpty(dtx_where(dtx_binary(DTX_GT, e, row), e, row), {0, 3}, DTX_F64));
  EXPECT_TRUE(IsEmpty(dtx_broadcast_to(row, 3, (const int64_t[]){2, 0, 3}), {2, 0, 3}, DTX_F32));
  /* 0 broadcasts with 1, not with 5 */
  EXPECT_TRUE(FailsWith(dtx_add(e, col), "could not be broadcast"));
  EXPECT_TRUE(IsEmpty(dtx_transpose(e, nullptr), {3, 0}, DTX_I32));
  EXPECT_TRUE(IsEmpty(dtx_rechunk(e, (const int64_t[]){4, 2}), {0, 3}, DTX_I32));
  EXPECT_TRUE(IsEmpty(dtx_astype(e, DTX_BOOL), {0, 3}, DTX_BOOL));
}

TEST_P(ArrayEmpty, ReductionsOfEmpty) {
  Scope sc;
  dtx_array *e = dtx_zeros(cl(), 2, (const int64_t[]){3, 0}, nullptr, DTX_I32);
  auto scalar = [](dtx_array *r) -> double {
    Nd n = Get(r);
    return n.v.size() == 1 ? n.v[0] : -12345;
  };
  EXPECT_EQ(scalar(dtx_sum(e, nullptr, 0)), 0);
  EXPECT_EQ(dtx_array_dtype(dtx_sum(e, nullptr, 0)), DTX_I64);
  EXPECT_EQ(scalar(dtx_prod(e, nullptr, 0)), 1);
  EXPECT_TRUE(std::isnan(scalar(dtx_mean(e, nullptr, 0))));
  EXPECT_TRUE(std::isnan(scalar(dtx_var(e, nullptr, 0))));
  EXPECT_TRUE(std::isnan(scalar(dtx_std(e, nullptr, 0))));
  EXPECT_EQ(scalar(dtx_any(e, nullptr, 0)), 0);
  EXPECT_EQ(scalar(dtx_all(e, nullptr, 0)), 1);
  EXPECT_TRUE(FailsWith(dtx_max(e, nullptr, 0), "dtx_max"));
  EXPECT_TRUE(FailsWith(dtx_min(e, nullptr, 0), "dtx_min"));
  EXPECT_TRUE(FailsWith(dtx_argmax(e, DTX_NO_AXIS), "dtx_argmax"));
  EXPECT_TRUE(FailsWith(dtx_argmin(e, 1), "dtx_argmin"));
  /* over the empty axis: the identity per kept element */
  const int ax1 = 1, ax0 = 0;
  EXPECT_TRUE(SameNd(Get(dtx_sum(e, &ax1, 1)), Want(DTX_I64, {3}, {0, 0, 0}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_prod(e, &ax1, 1)), Want(DTX_I64, {3}, {1, 1, 1}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_all(e, &ax1, 1)), Want(DTX_BOOL, {3}, {1, 1, 1}), 0));
  dtx_reduce_opts keep = DTX_REDUCE_OPTS_INIT;
  keep.keepdims = 1;
  dtx_array *mk = dtx_reduce(e, DTX_MEAN, &ax1, 1, &keep);
  ASSERT_NE(mk, nullptr) << dtx_last_error();
  EXPECT_EQ(Shape(mk), (std::vector<int64_t>{3, 1}));
  Nd m = Get(mk);
  for (double v : m.v) EXPECT_TRUE(std::isnan(v));
  /* over a non-empty axis of an array empty elsewhere: an empty result, no error */
  EXPECT_TRUE(IsEmpty(dtx_max(e, &ax0, 1), {0}, DTX_I32));
  EXPECT_TRUE(IsEmpty(dtx_argmax(e, 0), {0}, DTX_I64));
  EXPECT_TRUE(IsEmpty(dtx_mean(e, &ax0, 1), {0}, DTX_F64));
  EXPECT_TRUE(FailsWith(dtx_max(e, &ax1, 1), "empty along a reduced axis"));
  /* a float32 empty mean stays float32 */
  dtx_array *f = dtx_zeros(cl(), 1, (const int64_t[]){0}, nullptr, DTX_F32);
  EXPECT_EQ(dtx_array_dtype(dtx_mean(f, nullptr, 0)), DTX_F32);
  /* the reduction of an empty slice of a non-empty array */
  dtx_index none = {DTX_INDEX_SLICE, 2, 2, 1};
  dtx_array *s = dtx_slice(dtx_arange(cl(), 0, 6, 1, 2, DTX_F64), 1, &none);
  EXPECT_EQ(scalar(dtx_sum(s, nullptr, 0)), 0);
}

TEST_P(ArrayEmpty, ConcatenateStackMatmul) {
  Scope sc;
  Nd x = Want(DTX_I32, {2, 2}, {1, 2, 3, 4});
  dtx_array *a = Put(cl(), x, {1, 2});
  dtx_array *e = dtx_zeros(cl(), 2, (const int64_t[]){0, 2}, nullptr, DTX_F64);
  dtx_array *three[3] = {e, a, e};
  /* the empties add their dtype only */
  EXPECT_TRUE(SameNd(Get(dtx_concatenate(three, 3, 0)), Want(DTX_F64, {2, 2}, {1, 2, 3, 4}), 0));
  dtx_array *twice[4] = {a, e, a, e};
  EXPECT_TRUE(SameNd(Get(dtx_concatenate(twice, 4, 0)), Want(DTX_F64, {4, 2}, {1, 2, 3, 4, 1, 2, 3, 4}), 0));
  dtx_array *only[2] = {e, e};
  EXPECT_TRUE(IsEmpty(dtx_concatenate(only, 2, 0), {0, 2}, DTX_F64));
  EXPECT_TRUE(IsEmpty(dtx_stack(only, 2, 1), {0, 2, 2}, DTX_F64));
  /* matmul: k == 0 gives zeros, m == 0 or n == 0 an empty product */
  dtx_array *l = dtx_ones(cl(), 2, (const int64_t[]){3, 0}, nullptr, DTX_F64);
  dtx_array *r = dtx_ones(cl(), 2, (const int64_t[]){0, 4}, nullptr, DTX_F64);
  EXPECT_TRUE(SameNd(Get(dtx_matmul(l, r)), Want(DTX_F64, {3, 4}, std::vector<double>(12, 0.0)), 0));
  EXPECT_TRUE(
      IsEmpty(dtx_matmul(r, dtx_ones(cl(), 2, (const int64_t[]){4, 5}, nullptr, DTX_F64)), {0, 5}, DTX_F64));
  EXPECT_TRUE(
      IsEmpty(dtx_matmul(dtx_ones(cl(), 2, (const int64_t[]){2, 3}, nullptr, DTX_I32), l), {2, 0}, DTX_F64));
  dtx_array *v0 = dtx_ones(cl(), 1, (const int64_t[]){0}, nullptr, DTX_F64);
  EXPECT_TRUE(SameNd(Get(dtx_dot(v0, v0)), Want(DTX_F64, {}, {0}), 0));
}

TEST_P(ArrayEmpty, NpyWithAnEmptyAxis) {
  Scope sc;
  std::string path =
      ::testing::TempDir() + "dtx_empty_" + std::to_string(getpid()) + "_" + GetParam().name + ".npy";
  dtx_array *e = dtx_zeros(cl(), 3, (const int64_t[]){2, 0, 5}, nullptr, DTX_I64);
  ASSERT_EQ(dtx_save_npy(e, path.c_str()), DTX_OK) << dtx_last_error();
  dtx_array *back = nullptr;
  ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &back), DTX_OK) << dtx_last_error();
  dtx_array_keep(back);
  EXPECT_TRUE(IsEmpty(back, {2, 0, 5}, DTX_I64));
  EXPECT_EQ(dtx_array_graph(back, nullptr, nullptr, 0, nullptr), DTX_EINVAL); /* NULL graph still checked */
  dtx_array_release(back);
  unlink(path.c_str());
}
