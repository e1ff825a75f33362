"""W3 in one process, tools interleaved: ratios that survive a loaded machine.

``run.py`` times each tool in its own process, one after the other, so a burst
of load from elsewhere on a shared machine lands on whichever tool runs then.
Here the tools of W3 (benchmarks/workloads.py) that are installed take turns
within one process: each round times a batch of calls of every tool, and a
ratio is taken within the round, against the hand-written NumPy closed form.
Reported: per tool, the median time over the rounds and the median of the
per-round ratios.  One thread, pinned to one core, as in run.py.

    python -m benchmarks.bench_hessian [--rounds 15] [--batch 0.1]
"""

import argparse
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy, Numba or a peer loads its thread pool
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[-1:])

import numpy as np  # noqa: E402

from benchmarks import workloads as wl  # noqa: E402
from benchmarks.tools import Skip  # noqa: E402

# label -> (tool module, options)
TOOLS = {
    "numpy": ("numpy_ref", {}),
    "numpy-given-s": ("numpy_ref", {"given_weights": True}),
    "symdiff": ("symdiff_fn", {}),
    "jax": ("jax_jit", {}),
    "torch": ("torch_eager", {}),
    "autograd": ("autograd_hips", {}),
    "pytensor-numba": ("pytensor_fn", {"mode": "NUMBA"}),
    "pytensor-c": ("pytensor_fn", {"mode": "CVM"}),
    "pytensor-numba-vec": ("pytensor_fn", {"mode": "NUMBA", "vectorize": True}),
    "pytensor-c-vec": ("pytensor_fn", {"mode": "CVM", "vectorize": True}),
}


def _cases(data):
    """{(case, label): run} for the tools that import, each checked against the reference first."""
    import importlib

    want = wl.expected("W3", data)
    runs = {}
    for label, (module_name, options) in TOOLS.items():
        try:
            module = importlib.import_module(f"benchmarks.tools.{module_name}")
        except (ImportError, Skip) as error:
            print(f"{label}: skipped ({error})")
            continue
        for case, factory in (("hessian", "w3"), ("hvp", "w3_hvp")):
            try:
                run = getattr(module, factory)(data, **options).run
                got = np.asarray(run(), dtype=np.float64)
            except Skip:
                continue
            if not np.allclose(got, want[case][0], rtol=wl.RTOL, atol=wl.ATOL):
                print(f"{label} {case}: WRONG, not timed")
                continue
            runs[case, label] = run
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch", type=float, default=0.1, help="seconds of calls per tool per round")
    args = ap.parse_args()
    runs = _cases(wl.w3_data())
    calls = {}
    for key, run in runs.items():  # warm up, and size each tool's batch
        t0 = time.perf_counter()
        run()
        calls[key] = max(1, int(args.batch / max(time.perf_counter() - t0, 1e-7)))
    times = {key: [] for key in runs}
    for _ in range(args.rounds):
        for key, run in runs.items():
            t0 = time.perf_counter()
            for _ in range(calls[key]):
                run()
            times[key].append((time.perf_counter() - t0) / calls[key])
    print(f"W3, {args.rounds} interleaved rounds, load average {os.getloadavg()[0]:.2f}\n")
    print("| case | tool | median | vs numpy | vs numpy-given-s |")
    print("|---|---|---:|---:|---:|")
    for case in ("hessian", "hvp"):
        refs = [times.get((case, ref)) for ref in ("numpy", "numpy-given-s")]
        for (c, label), samples in times.items():
            if c != case:
                continue
            ratios = [f"{statistics.median(t / r for t, r in zip(samples, ref)):.2f}" if ref else "-" for ref in refs]
            print(f"| {case} | {label} | {_fmt(statistics.median(samples))} | {' | '.join(ratios)} |")
    print("\nvs X: the median over the rounds of (this tool's time / X's time in the same round); numpy-given-s "
          "computes s*(1 - s) beforehand, so its hvp is two matrix-vector products")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


if __name__ == "__main__":
    main()
