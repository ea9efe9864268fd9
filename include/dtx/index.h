/*
 * dtx/index.h - selecting elements by data: numpy.take with integer indices,
 * boolean-mask selection x[mask], and numpy.unique (dask.array's take,
 * x[mask] and unique).
 *
 * dtx_take / dtx_take_array: NumPy's take along one axis. Indices may repeat
 * and come in any order; a negative index counts from the end; an index out
 * of range is DTX_EINVAL naming it ("index 12 is out of bounds for axis 0
 * with size 10", NumPy's IndexError). The result has a's shape with the
 * number of indices along axis (0 indices: an empty axis) and a's dtype.
 * dtx_take chunks the result along axis like a (the chunk length of a
 * there): each output chunk is one task reading only the input chunks its
 * indices fall in. dtx_take_array takes the indices from a 1-d integer
 * array of known length (any integer dtype; bool is a mask: use
 * dtx_mask_select): the result is chunked along axis like the indices,
 * each output chunk reads one chunk of indices and every chunk of a along
 * axis, and an index out of range fails the computation (DTX_ETASK with
 * the same message). Both copy bytes, so every dtype is the same
 * operation; CPU tasks (on a GPU cluster too).
 *
 * axis DTX_NO_AXIS (dtx/array.h): NumPy's axis=None, indices into the
 * flattened array (C order; a 0-d a has one element), out of range named
 * as "index 63 is out of bounds for axis 0 with size 63". dtx_take's result
 * is 1-d (n), in chunks of as many elements as a chunk of a, each reading
 * only the chunks of a its indices fall in; dtx_take_array's indices may
 * have any shape (known), and the result has their shape and chunks, each
 * chunk reading every chunk of a.
 *
 * Lengths unknown until computed (Dask's nan chunks). dtx_mask_select and
 * dtx_unique return 1-d arrays whose length depends on the data: see
 * "Unknown lengths" in dtx/array.h for what accepts them.
 *
 * dtx_mask_select(a, mask): a[mask] with mask a bool array of a's shape
 * (any chunks: it is read in a's), as NumPy: the selected elements in C
 * order of a, as a 1-d array of unknown length. One task per chunk of a
 * along axis 0, reading that row of chunks. An empty a gives an empty
 * array (of known length 0). A complex a (dtx/complex.h) gives a complex
 * array of unknown length that is computed, persisted, saved or made
 * unique as it is; any other operation on it asks for
 * dtx_array_compute_chunk_sizes first.
 *
 * dtx_unique(a): the sorted distinct values of a (flattened), as
 * numpy.unique: NaNs last and collapsed into one (NumPy 2's equal_nan);
 * -0.0 and 0.0 are one value. A 1-d array of a's dtype and unknown
 * length. A unique of each chunk, then a tree of merges of up to 8 (as
 * dask.array.unique's per-chunk unique and reduction); CPU tasks. a may be
 * of unknown length itself when it is a mask selection or a unique (not an
 * operation over one: compute its chunk sizes first). Complex a: NumPy's
 * order of complex values (lexicographic), and every value with a NaN part
 * is one value (NumPy's equal_nan for complex), the one kept the least of
 * them in NumPy's sort order ((x, nan) by x, then (nan, y) by y, then
 * (nan, nan)) as numpy.unique's sorting path (return_index / inverse /
 * counts) keeps; plain numpy.unique hashes and may keep another of them.
 * The values are a complex array of unknown length (see dtx_mask_select).
 *
 * dtx_unique_all(a, &values, &index, &inverse, &counts): numpy.unique(a,
 * return_index, return_inverse, return_counts). Each output pointer may be
 * NULL (not wanted); those given receive new arrays (in the thread's
 * scope) on success only.
 *   values   as dtx_unique; for 0.0 and -0.0 the first occurring (NumPy's
 *            stable sort with return_index).
 *   index    int64: the flat (C order) index in a of each value's first
 *            occurrence (a NaN's: the first NaN; complex: the first
 *            occurrence of the NaN value kept).
 *   inverse  int64, a's shape and chunks (NumPy 2: a 0-d a gives a 0-d
 *            inverse; values[inverse] is a), so of known length unless a's
 *            is unknown: each element's position in values. Dask finds it
 *            by comparing each element with every value (==, so a NaN
 *            element matches none and gets 0) and, with NumPy 2, reshapes
 *            it to a's shape (1-d before).
 *   counts   int64: how often each value occurs (all NaNs together).
 * values, index and counts have one unknown length. A record (distinct
 * values, first index, count) per chunk, merged by a tree of up to 8, and
 * a binary search per chunk for inverse, all CPU tasks; computed together
 * (one dtx_array_compute of an expression of them) they share the tree;
 * computed one by one, each runs it. An empty a gives known empty arrays.
 *
 * Errors: NULL with DTX_EINVAL for a NULL a, a 0-d a (take, but for
 * DTX_NO_AXIS), a bad axis, indices out of range, an index array that is
 * not 1-d (but for DTX_NO_AXIS), of unknown length or not of an integer
 * dtype, a mask that is not bool or not of a's shape, arrays of
 * different clusters, or an operand of unknown length.
 */
#ifndef DTX_INDEX_H
#define DTX_INDEX_H

#include "dtx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* a.take(indices[0..n), axis) (negative axis counts from the end;
 * DTX_NO_AXIS: the flattened array). */
DTX_API dtx_array *dtx_take(const dtx_array *a, const int64_t *indices, int64_t n, int axis);
/* a.take(indices, axis) with a 1-d integer array of indices (any shape
 * with DTX_NO_AXIS). */
DTX_API dtx_array *dtx_take_array(const dtx_array *a, const dtx_array *indices, int axis);
/* a[mask]: 1-d, of unknown length. */
DTX_API dtx_array *dtx_mask_select(const dtx_array *a, const dtx_array *mask);
/* numpy.unique(a): 1-d, sorted, of unknown length. */
DTX_API dtx_array *dtx_unique(const dtx_array *a);
/* numpy.unique(a, return_index=, return_inverse=, return_counts=): the
 * outputs asked for (non-NULL pointers). DTX_EINVAL as dtx_unique. */
DTX_API dtx_status dtx_unique_all(const dtx_array *a, dtx_array **values, dtx_array **index,
                                  dtx_array **inverse, dtx_array **counts);

#ifdef __cplusplus
}
#endif

#endif /* DTX_INDEX_H */
