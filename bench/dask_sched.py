#!/usr/bin/env python3
"""bench/dask_sched.py - dtx against Dask (and StarPU) on the scheduler cases of
BENCHMARKS.md section 1, in the same run on the same machine.

Run through bench/run_sched_peers.sh, which makes the venv with Dask in it.

Graphs (N = --tasks, default 100,000), no-op tasks:
  wide   N independent tasks feeding one sink            (N + 1 tasks)
  chain  N tasks, each depending on the previous one     (N tasks)
  tree   binary reduction tree over N leaves             (about 2N tasks)

Dask's figure is building the graph dict plus its `get` on that dict, both in the
timed region: `sync` is dask.get (dask.local.get_sync), `threads` is
dask.threaded.get with as many workers as dtx's threads scheduler has. dtx's
figure comes from dtx-bench-sched --json (graph create + adds + dtx_compute +
release + destroy, timed). Both report the median µs per task over their reps.

StarPU's tasks_overhead example (Debian package starpu-examples) is a C reference
point: N independent empty tasks submitted then waited for; its task structures
are made before its timer starts, and it has no sink. Its "Per task" figure is
set beside dtx's wide/threads figure.
"""

import argparse
import datetime
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

STARPU_TASKS_OVERHEAD = "/usr/lib/x86_64-linux-gnu/starpu/examples/tasks_overhead"
GRAPH_CASES = ("wide", "chain", "tree")


def noop(*args):
    return None


# ---- Dask graphs (plain dicts), built inside the timed region -----------------


def wide_graph(n):
    dsk = {("leaf", i): (noop,) for i in range(n)}
    dsk["sink"] = (noop, [("leaf", i) for i in range(n)])
    return dsk, "sink"


def chain_graph(n):
    dsk = {("chain", 0): (noop,)}
    for i in range(1, n):
        dsk[("chain", i)] = (noop, ("chain", i - 1))
    return dsk, ("chain", n - 1)


def tree_graph(n):
    dsk = {("tree", 0, i): (noop,) for i in range(n)}
    m, level = n, 1
    while m > 1:
        half = (m + 1) // 2
        for j in range(half):
            if 2 * j + 1 < m:
                dsk[("tree", level, j)] = (noop, ("tree", level - 1, 2 * j), ("tree", level - 1, 2 * j + 1))
            else:
                dsk[("tree", level, j)] = (noop, ("tree", level - 1, 2 * j))
        m, level = half, level + 1
    return dsk, ("tree", level - 1, 0)


BUILDERS = {"wide": wide_graph, "chain": chain_graph, "tree": tree_graph}


def dask_getter(scheduler, threads):
    import dask
    import dask.threaded

    if scheduler == "sync":
        return dask.get
    return lambda dsk, key: dask.threaded.get(dsk, key, num_workers=threads)


def time_dask(case, scheduler, n, reps, threads, warm_n):
    """Median/min/max µs per task of building the dict and running it."""
    get = dask_getter(scheduler, threads)
    dsk, key = BUILDERS[case](warm_n)  # warm-up on a smaller graph: same code paths, less time
    get(dsk, key)
    del dsk
    gc.collect()
    per_task, ntasks = [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        dsk, key = BUILDERS[case](n)
        get(dsk, key)
        ntasks = len(dsk)
        del dsk
        t1 = time.perf_counter()
        per_task.append((t1 - t0) * 1e6 / ntasks)
        gc.collect()
    return {"tasks": ntasks, "us_per_task": statistics.median(per_task), "min": min(per_task), "max": max(per_task)}


# ---- dtx --------------------------------------------------------------------------


def run_dtx(binary, args):
    cmd = [binary, "--json", "--tasks", str(args.tasks), "--reps", str(args.reps)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    cmd += ["--cases", ",".join(args.cases + (["futures", "futures-batch"] if args.futures else []))]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit("dask_sched.py: %s failed (exit %d):\n%s" % (" ".join(cmd), proc.returncode, proc.stderr))
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {(r["case"], r["scheduler"]): r for r in rows}, " ".join(cmd)


# ---- StarPU -----------------------------------------------------------------------


def run_starpu(binary, n, reps, threads):
    """Median 'Per task' µs of tasks_overhead -i n; None and a reason when it cannot run."""
    if not os.access(binary, os.X_OK):
        return None, "not installed (%s missing)" % binary
    env = dict(os.environ, STARPU_SILENT="1", STARPU_NCPU=str(threads), STARPU_NCUDA="0", STARPU_NOPENCL="0")
    cmd = [binary, "-i", str(n)]
    figures = []
    for _ in range(reps + 1):  # the first run is the warm-up
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        m = re.search(r"^Per task:\s*([0-9.]+)\s*usecs", proc.stdout, re.M)
        if proc.returncode != 0 or m is None:
            return None, "failed (exit %d): %s" % (proc.returncode, proc.stdout.strip()[-300:])
        figures.append(float(m.group(1)))
    figures = figures[1:]
    return {
        "tasks": n,
        "us_per_task": statistics.median(figures),
        "min": min(figures),
        "max": max(figures),
        "command": "STARPU_NCPU=%d %s" % (threads, " ".join(cmd)),
    }, None


# ---- output -----------------------------------------------------------------------


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return cpu, os.cpu_count()


def ratio(a, b):
    return a / b if a is not None and b else None


def times(r):
    if r is None:
        return "-"
    return ("%.0fx" % r) if r >= 10 else ("%.2fx" % r)


def fmt(x, width, prec):
    return ("%*.*f" % (width, prec, x)) if x is not None else "%*s" % (width, "-")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dtx-bin", default="build/bin/dtx-bench-sched", help="dtx-bench-sched program")
    ap.add_argument("--tasks", type=int, default=100000, help="N (default 100000)")
    ap.add_argument("--reps", type=int, default=7, help="dtx timed repetitions (default 7)")
    ap.add_argument("--dask-reps", type=int, default=3, help="Dask timed repetitions (default 3)")
    ap.add_argument("--dask-warmup-tasks", type=int, default=10000, help="N of Dask's warm-up graph (default 10000)")
    ap.add_argument("--threads", type=int, default=0, help="worker threads (default: all cores)")
    ap.add_argument("--cases", default="wide,chain,tree", help="comma-separated graph cases")
    ap.add_argument("--schedulers", default="sync,threads", help="comma-separated: sync,threads")
    ap.add_argument("--no-futures", dest="futures", action="store_false", help="skip dtx's futures cases")
    ap.add_argument("--starpu", default=STARPU_TASKS_OVERHEAD, help="StarPU tasks_overhead program")
    ap.add_argument("--starpu-reps", type=int, default=3, help="StarPU timed repetitions (default 3)")
    ap.add_argument("--starpu-note", default="", help="why StarPU is missing (set by run_sched_peers.sh)")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    args = ap.parse_args()
    args.cases = [c for c in args.cases.split(",") if c]
    schedulers = [s for s in args.schedulers.split(",") if s]
    for c in args.cases:
        if c not in GRAPH_CASES:
            ap.error("unknown case %r (wide, chain, tree)" % c)
    for s in schedulers:
        if s not in ("sync", "threads"):
            ap.error("unknown scheduler %r (sync, threads)" % s)

    import dask

    cpu, cores = machine()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")

    dtx, dtx_cmd = run_dtx(args.dtx_bin, args)
    threads = args.threads or next((r["threads"] for r in dtx.values() if r["scheduler"] == "threads"), cores)

    info = {
        "kind": "machine",
        "cpu": cpu,
        "cores": cores,
        "date": date,
        "python": platform.python_version(),
        "dask": dask.__version__,
        "threads": threads,
        "tasks": args.tasks,
        "dtx_reps": args.reps,
        "dask_reps": args.dask_reps,
        "dtx_command": dtx_cmd,
    }
    if args.json:
        print(json.dumps(info), flush=True)
    else:
        print("# dtx vs Dask, scheduler cost per no-op task (BENCHMARKS.md section 1)")
        print("# machine: %s, %d cores (shared machine: figures are noisy); %s" % (cpu, cores, date))
        print("# dtx: %s (median of %d reps after a warm-up)" % (dtx_cmd, args.reps))
        print(
            "# Dask %s on Python %s: graph dict built AND run inside the timed region; sync = dask.get, "
            "threads = dask.threaded.get(num_workers=%d); median of %d reps after a warm-up on N=%d"
            % (dask.__version__, info["python"], threads, args.dask_reps, min(args.dask_warmup_tasks, args.tasks))
        )
        print("# ratio = Dask us/task / dtx us/task (how many times dtx is faster)")
        print(
            "%-14s %-9s %9s %12s %12s %13s %10s"
            % ("case", "scheduler", "tasks", "dtx us/task", "dask us/task", "dask min-max", "dask/dtx")
        )
        sys.stdout.flush()

    rows = []
    for case in args.cases:
        for sched in schedulers:
            d = dtx.get((case, sched))
            k = time_dask(case, sched, args.tasks, args.dask_reps, threads, min(args.dask_warmup_tasks, args.tasks))
            row = {
                "kind": "result",
                "case": case,
                "scheduler": sched,
                "tasks": d["tasks"] if d else k["tasks"],
                "dtx_us_per_task": d["us_per_task"] if d else None,
                "dtx_min": d["min"] if d else None,
                "dtx_max": d["max"] if d else None,
                "dask_us_per_task": k["us_per_task"],
                "dask_min": k["min"],
                "dask_max": k["max"],
                "ratio": ratio(k["us_per_task"], d["us_per_task"] if d else None),
                "threads": threads if sched == "threads" else 1,
            }
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                rng = "%.1f-%.1f" % (k["min"], k["max"])
                r = row["ratio"]
                print(
                    "%-14s %-9s %9d %12s %12s %13s %10s"
                    % (
                        case,
                        sched,
                        row["tasks"],
                        fmt(row["dtx_us_per_task"], 12, 4),
                        fmt(k["us_per_task"], 12, 2),
                        rng,
                        times(r),
                    ),
                    flush=True,
                )

    for case in ("futures", "futures-batch"):
        d = dtx.get((case, "threads"))
        if d is None:
            continue
        row = {
            "kind": "result",
            "case": case,
            "scheduler": "threads",
            "tasks": d["tasks"],
            "dtx_us_per_task": d["us_per_task"],
            "dtx_min": d["min"],
            "dtx_max": d["max"],
            "dask_us_per_task": None,
            "ratio": None,
            "threads": d["threads"],
        }
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(
                "%-14s %-9s %9d %12s %12s %13s %10s"
                % (case, "threads", d["tasks"], fmt(d["us_per_task"], 12, 4), "-", "(no peer)", "-")
            )

    sp, why = run_starpu(args.starpu, args.tasks, args.starpu_reps, threads)
    if why and args.starpu_note:
        why = args.starpu_note
    base = dtx.get(("wide", "threads"))
    if args.json:
        out = {"kind": "starpu", "case": "tasks_overhead", "scheduler": "starpu default policy"}
        if sp:
            out.update(sp)
            out["dtx_wide_threads_us_per_task"] = base["us_per_task"] if base else None
            out["ratio"] = ratio(sp["us_per_task"], base["us_per_task"] if base else None)
        else:
            out["not_run"] = why
        print(json.dumps(out), flush=True)
    else:
        print()
        if sp:
            r = ratio(sp["us_per_task"], base["us_per_task"] if base else None)
            print(
                "StarPU tasks_overhead (%s; %d independent empty tasks, submit + wait, task structs made "
                "before its timer, no sink): %.2f us/task (min %.2f, max %.2f, median of %d)%s"
                % (
                    sp["command"],
                    sp["tasks"],
                    sp["us_per_task"],
                    sp["min"],
                    sp["max"],
                    args.starpu_reps,
                    (", %s dtx wide/threads (%.4f us/task)" % (times(r), base["us_per_task"])) if r else "",
                )
            )
        else:
            print("StarPU tasks_overhead: not run: %s" % why)


if __name__ == "__main__":
    main()
