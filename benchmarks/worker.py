"""Run one workload of one tool in this (fresh) process; write its rows as JSON.

    python -m benchmarks.worker TOOL WORKLOAD OUT.json [--cached] [--repeats N] [--min-batch S]

Called by run.py, from the repository root. For each case of the workload
(W1: step and loop; W2: step; W3: hessian and hvp; W4: grad) a row records:
  first_s   building the function plus its first call (includes compilation),
  median_s  median time of one call after a warm-up call (not with --cached),
  status    ok | WRONG (disagrees with the NumPy reference, then not timed) |
            skip | error, with a note.
With --cached only first_s is measured: the run that reuses a compile cache.
"""

import argparse
import importlib
import json
import math
import re
import statistics
import time

import numpy as np

from benchmarks import workloads as wl
from benchmarks.tools import TOOLS, Skip


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def median_time(fn, repeats, min_batch):
    """Median seconds per call; each sample times enough calls to last min_batch."""
    _, t = timed(fn)  # warm-up, also sizes the batches
    calls = max(1, math.ceil(min_batch / max(t, 1e-7)))
    samples = []
    def batch():
        for _ in range(calls):
            fn()  # results dropped at once, as in a loop that uses them (no pile-up of live outputs)

    for _ in range(repeats):
        _, t = timed(batch)
        samples.append(t / calls)
    return statistics.median(samples)


def agrees(got, want):
    got = [np.asarray(g, dtype=np.float64) for g in got]
    return len(got) == len(want) and all(
        (g.shape == np.shape(w) or g.size == np.size(w) == 1)
        and np.allclose(g.reshape(np.shape(w)), w, rtol=wl.RTOL, atol=wl.ATOL)
        for g, w in zip(got, want)
    )


def failed(row, exc):
    status = "skip" if isinstance(exc, Skip) else "error"
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())  # one line, no colours
    row.update(status=status, note=f"{type(exc).__name__}: {text}"[:300])


FIRST_CASE = {"W3": "hessian", "W4": "grad"}  # default: "step"


def prepare(module, name, data, options, row, want):
    """Build the tool's case ``name`` and run it once (timed into ``row``); the Case or None."""
    try:
        t0 = time.perf_counter()
        factory = getattr(module, name, None)
        if factory is None:
            raise Skip(f"{module.__name__.rsplit('.', 1)[-1]} has no {name}")
        case = factory(data, **options)
        out = case.run()
        row["first_s"] = time.perf_counter() - t0
        if want and not agrees([out, *case.state()], want):
            row["status"] = "WRONG"
        return case
    except Exception as e:  # any failure of the tool is reported, not raised
        failed(row, e)
        return None


def bench(module, options, workload, cached, repeats, min_batch):
    data = wl.DATA[workload]()
    want = None if cached else wl.expected(workload, data)
    first = FIRST_CASE.get(workload, "step")
    rows = [{"case": first, "compiled": module.COMPILES, "status": "ok"}]
    case = prepare(module, workload.lower(), data, options, rows[0], want and want[first])

    runs = {first: lambda: case.run()}
    if workload == "W3":
        row = {"case": "hvp", "compiled": module.COMPILES, "status": "ok"}
        rows.append(row)
        hvp = prepare(module, "w3_hvp", data, options, row, want and want["hvp"])
        runs["hvp"] = lambda: hvp.run()
    if workload == "W1":
        row = {"case": "loop", "status": rows[0]["status"], "note": rows[0].get("note")}
        rows.append(row)
        if row["status"] in ("ok", "WRONG"):
            loop = case.loop or (lambda steps: [case.run() for _ in range(steps)])
            runs["loop"] = lambda: loop(wl.LOOP_STEPS)
            row.update(compiled=case.loop is not None and module.COMPILES, status="ok")
            try:
                _, row["first_s"] = timed(runs["loop"])
                if want and not agrees(case.state(), want["loop"]):
                    row["status"] = "WRONG"
            except Exception as e:
                failed(row, e)

    if not cached:
        for row in rows:
            if row["status"] == "ok":
                row["median_s"] = median_time(runs[row["case"]], repeats, min_batch)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", choices=TOOLS)
    ap.add_argument("workload", choices=wl.DATA)
    ap.add_argument("out")
    ap.add_argument("--cached", action="store_true")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-batch", type=float, default=0.05)
    a = ap.parse_args()
    module_name, options, _ = TOOLS[a.tool]
    try:
        module = importlib.import_module(f"benchmarks.tools.{module_name}")
    except (ImportError, Skip) as e:
        result = {"skip": f"{type(e).__name__}: {e}"}
    else:
        rows = bench(module, options, a.workload, a.cached, a.repeats, a.min_batch)
        result = {"version": module.VERSION, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
