#!/usr/bin/env python3
"""bench/array_peers.py - BENCHMARKS.md section 2 through Dask (threads) and
NumPy beside dtx-bench-array, in one run on one machine.

Runs dtx-bench-array --json first (its own process, so the peers' memory and
threads do not overlap it), then in this process: the memory-bandwidth floor
measured with a large NumPy copy, NumPy on the whole array, and Dask array
(threaded scheduler, num_workers = dtx's worker threads) on the same chunks,
with x persisted before timing. Prints a table of medians and ratios, or with
--json one JSON object per line. Started by bench/run_array_peers.sh.
"""
import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

import dask
import dask.array as da
import numpy as np

CASES = ["transpose-sum", "sum", "mean-axis0", "elementwise", "slice", "matmul", "stencil"]
# only when named in --cases, on inputs of their own (as dtx-bench-array's):
# tsqr: Q of a 1,000,000 x 64 float64 array in 100,000-row chunks;
# svd_compressed: U of the rank-32 randomized SVD of a 20,000 x 2,000 array of
# rank 32 in 2,000 x 2,000 chunks (NumPy: its exact SVD, for reference);
# cumsum-axis0: x.cumsum(axis=0); sort-axis1: x sorted along rows (Dask has no
# sort: x rechunked to whole rows, np.sort per block, as dtx does inside dtx_sort)
# fft2: the 2-d FFT of an n x n complex128 array in chunks of c whole rows, as two passes (an
# FFT along the rows, a rechunk to whole columns, one along the columns: Dask's fft takes axes
# held in one chunk); NumPy: np.fft.fft2 on the whole array
# exp-sin: (exp(x) + sin(x)).sum(); pow2: (x ** 2).sum(); max-axis0, argmax-axis0: x.max / argmax(axis=0)
# matmul-1chunk: (y @ y).sum() for y an n/2 x n/2 float64 array in one chunk;
# max-axis1, argmax-axis1, max, argmax: along the rows and over all of x
LINALG = ["tsqr", "svd_compressed", "cumsum-axis0", "sort-axis1", "fft2", "exp-sin", "pow2", "max-axis0",
          "argmax-axis0", "matmul-1chunk", "max-axis1", "argmax-axis1", "max", "argmax"]  # only when named


def timed(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts), max(ts)


def laplace_numpy(x):
    return np.roll(x, 1, 0) + np.roll(x, -1, 0) + np.roll(x, 1, 1) + np.roll(x, -1, 1) - 4 * x


def laplace_block(b):
    # a halo'd block in, the same shape out (map_overlap trims the halo)
    out = np.empty_like(b)
    out[1:-1, 1:-1] = b[:-2, 1:-1] + b[2:, 1:-1] + b[1:-1, :-2] + b[1:-1, 2:] - 4 * b[1:-1, 1:-1]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtx-bin", required=True)
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=5, help="dtx and NumPy timed runs")
    ap.add_argument("--dask-reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--cases", default=",".join(CASES), help="also: " + ",".join(LINALG))
    ap.add_argument("--no-numpy", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    cases = [c for c in a.cases.split(",") if c]
    for c in cases:
        if c not in CASES + LINALG:
            sys.exit(f"array_peers: unknown case {c!r}")

    # ---- dtx ------------------------------------------------------------------------
    cmd = [a.dtx_bin, "--json", "--n", str(a.n), "--chunk", str(a.chunk), "--reps", str(a.reps), "--cases", ",".join(cases)]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    machine, dtx = {}, {}
    for line in out.splitlines():
        rec = json.loads(line)
        if rec["kind"] == "machine":
            machine = rec
        else:
            dtx[rec["case"]] = rec
    threads = machine["threads"]

    # ---- the floor: a large NumPy copy --------------------------------------------------
    n, c, h = a.n, a.chunk, a.n // 2
    rng = np.random.default_rng(42)
    x = rng.random((n, n))
    y = np.empty_like(x)
    copy_s = min(timed(lambda: np.copyto(y, x), 4)[:2])
    np_copy_gbps = 2 * x.nbytes / copy_s / 1e9
    del y

    # ---- NumPy ---------------------------------------------------------------------------
    npc = {
        "transpose-sum": lambda: (x + x.T).sum(),
        "sum": lambda: x.sum(),
        "mean-axis0": lambda: x.mean(axis=0),
        "elementwise": lambda: (x * 2 + 1).sum(),
        "slice": lambda: x[::3, ::3].sum(),
        "matmul": lambda: (x[:h, :h] @ x[:h, :h]).sum(),
        "stencil": lambda: laplace_numpy(x),
        "cumsum-axis0": lambda: np.cumsum(x, axis=0),
        "sort-axis1": lambda: np.sort(x, axis=1),
        "exp-sin": lambda: (np.exp(x) + np.sin(x)).sum(),
        "pow2": lambda: (x ** 2).sum(),
        "max-axis0": lambda: x.max(axis=0),
        "argmax-axis0": lambda: x.argmax(axis=0),
        "max-axis1": lambda: x.max(axis=1),
        "argmax-axis1": lambda: x.argmax(axis=1),
        "max": lambda: x.max(),
        "argmax": lambda: x.argmax(),
    }
    la = {}
    if "tsqr" in cases:
        la["tsqr"] = rng.random((1_000_000, 64))
        npc["tsqr"] = lambda: np.linalg.qr(la["tsqr"])
    if "svd_compressed" in cases:
        la["svd_compressed"] = rng.standard_normal((20_000, 32)) @ rng.standard_normal((32, 2_000))
        npc["svd_compressed"] = lambda: np.linalg.svd(la["svd_compressed"], full_matrices=False)
    if "fft2" in cases:
        la["fft2"] = rng.random((n, n)) + 1j * rng.random((n, n))
        npc["fft2"] = lambda: np.fft.fft2(la["fft2"])
    if "matmul-1chunk" in cases:
        la["matmul-1chunk"] = rng.random((h, h))
        npc["matmul-1chunk"] = lambda: (la["matmul-1chunk"] @ la["matmul-1chunk"]).sum()
    numpy = {}
    if not a.no_numpy:
        for case in cases:
            numpy[case] = timed(npc[case], max(1, a.reps // 2))

    # ---- Dask, threads ------------------------------------------------------------------------
    dask.config.set(scheduler="threads", num_workers=threads)
    xd = da.from_array(x, chunks=(c, c)).persist()
    xh = xd[:h, :h]
    dkc = {
        "transpose-sum": lambda: (xd + xd.T).sum().compute(),
        "sum": lambda: xd.sum().compute(),
        "mean-axis0": lambda: xd.mean(axis=0).compute(),
        "elementwise": lambda: (xd * 2 + 1).sum().compute(),
        "slice": lambda: xd[::3, ::3].sum().compute(),
        "matmul": lambda: (xh @ xh).sum().compute(),
        "stencil": lambda: xd.map_overlap(laplace_block, depth=1, boundary="periodic", dtype=xd.dtype).compute(),
        "cumsum-axis0": lambda: xd.cumsum(axis=0).compute(),
        # Dask has no sort: whole rows (as dtx rechunks), np.sort per block
        "sort-axis1": lambda: xd.rechunk((max(1, c * c // n), n)).map_blocks(np.sort, axis=1).compute(),
        "exp-sin": lambda: (da.exp(xd) + da.sin(xd)).sum().compute(),
        "pow2": lambda: (xd ** 2).sum().compute(),
        "max-axis0": lambda: xd.max(axis=0).compute(),
        "argmax-axis0": lambda: xd.argmax(axis=0).compute(),
        "max-axis1": lambda: xd.max(axis=1).compute(),
        "argmax-axis1": lambda: xd.argmax(axis=1).compute(),
        "max": lambda: xd.max().compute(),
        "argmax": lambda: xd.argmax().compute(),
    }
    if "tsqr" in cases:
        td = da.from_array(la["tsqr"], chunks=(100_000, 64)).persist()
        dkc["tsqr"] = lambda: da.linalg.tsqr(td)[0].compute()
    if "svd_compressed" in cases:
        sd = da.from_array(la["svd_compressed"], chunks=(2_000, 2_000)).persist()
        dkc["svd_compressed"] = lambda: da.linalg.svd_compressed(sd, 32, n_power_iter=0, n_oversamples=10,
                                                                 seed=0)[0].compute()
    if "fft2" in cases:
        fd = da.from_array(la["fft2"], chunks=(c, n)).persist()
        dkc["fft2"] = lambda: da.fft.fft(da.fft.fft(fd, axis=1).rechunk((n, c)), axis=0).compute()
    if "matmul-1chunk" in cases:
        yd = da.from_array(la["matmul-1chunk"], chunks=(h, h)).persist()
        dkc["matmul-1chunk"] = lambda: (yd @ yd).sum().compute()
    dk = {case: timed(dkc[case], a.dask_reps) for case in cases}

    # ---- report -------------------------------------------------------------------------------
    rows = []
    for case in cases:
        d = dtx[case]
        row = {
            "case": case,
            "dtx_ms": d["ms"],
            "dtx_min_ms": d["min_ms"],
            "dtx_max_ms": d["max_ms"],
            "floor_ms": d["floor_ms"],
            "dask_ms": dk[case][0] * 1e3,
            "dask_min_ms": dk[case][1] * 1e3,
            "dask_max_ms": dk[case][2] * 1e3,
            "numpy_ms": numpy[case][0] * 1e3 if case in numpy else None,
        }
        row["dask_over_dtx"] = row["dask_ms"] / row["dtx_ms"]
        row["dtx_over_floor"] = row["dtx_ms"] / row["floor_ms"] if row["floor_ms"] > 0 else None
        rows.append(row)
    info = {
        "kind": "machine",
        "cpu": machine["cpu"],
        "cores": machine["cores"],
        "threads": threads,
        "n": n,
        "chunk": c,
        "dtx_copy_gbps": machine["copy_gbps"],
        "numpy_copy_gbps": np_copy_gbps,
        "blas_ms": machine["blas_ms"],
        "dask": dask.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    if a.json:
        print(json.dumps(info))
        for r in rows:
            print(json.dumps(dict(kind="case", **r)))
        return
    print(f"x = {n} x {n} float64 in {c} x {c} chunks; {machine['cpu']}, {machine['cores']} cores, {threads} threads")
    print(f"dtx {machine['build']} build; Dask {dask.__version__} (threads, num_workers={threads}); "
          f"NumPy {np.__version__}; Python {platform.python_version()}")
    print(f"copy bandwidth: {machine['copy_gbps']:.2f} GB/s (dtx-bench-array, parallel memcpy), "
          f"{np_copy_gbps:.2f} GB/s (np.copyto, one thread); BLAS {h}x{h} dgemm {machine['blas_ms']:.0f} ms")
    print()
    print(f"{'case':<14} {'dtx ms':>9} {'floor ms':>9} {'x floor':>8} {'Dask ms':>9} {'Dask/dtx':>9} {'NumPy ms':>9}")
    for r in rows:
        fl = f"{r['dtx_over_floor']:.2f}" if r["dtx_over_floor"] else "-"
        nm = f"{r['numpy_ms']:.1f}" if r["numpy_ms"] is not None else "-"
        print(f"{r['case']:<14} {r['dtx_ms']:>9.1f} {r['floor_ms']:>9.1f} {fl:>8} {r['dask_ms']:>9.1f} "
              f"{r['dask_over_dtx']:>8.1f}x {nm:>9}")


if __name__ == "__main__":
    main()
