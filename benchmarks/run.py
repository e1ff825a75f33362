"""Benchmark driver: each workload x tool in fresh subprocesses, then one table.

Usage (venv active; peers from `pip install -e '.[bench]'`):

    python benchmarks/run.py                      # full suite, table to stdout
    python benchmarks/run.py --quick              # fewer, shorter samples
    python benchmarks/run.py --only W1,W4 --tools jax,numba,symdiff
    python benchmarks/run.py --no-cached          # skip the cached-compile processes
    python benchmarks/run.py --threads 0          # libraries' default threading
    python benchmarks/run.py --only W3 --repeat 5  # median of 5 whole runs (shared machines)

Workloads are described in benchmarks/workloads.py, tools in benchmarks/tools/.
A tool that is not installed (or symdiff without the needed API) is skipped
with a note. Every result is checked against the hand-derived NumPy reference
first; one that disagrees is reported as WRONG and not timed.

Each (tool, workload) runs in its own process with empty cache directories
(SYMDIFF_CACHE_DIR, NUMBA_CACHE_DIR, JAX_COMPILATION_CACHE_DIR, PyTensor's
base_compiledir); for tools that compile, a second fresh process reuses them.
By default each process is single-threaded and pinned to one core (the only
way to limit XLA's threads), which keeps the comparison fair to the serial
Numba reference and steadier on shared cores.
Columns:
  median          one call (one SGD step, 1000 steps, or one gradient), median of
                  7 samples (--quick: 3) after a warm-up call; a sample averages
                  enough calls to last 50 ms (--quick: 20 ms)
  compile cold    building the function + first call, minus the median call;
                  "-" for tools that do not compile (and Python loops)
  compile cached  the same in the second process, with the caches filled
  vs reference    median / median of the reference: the hand-written Numba code, or for
                  W3 the hand-written NumPy closed form

The markdown table goes to stdout, and to a file with --out PATH. The committed
benchmarks/results.md is written only with --update-results (a full run: no
--quick, --only or --tools). Tools whose packages are missing stop the run
before it starts, with one line saying what to install.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.tools import REFERENCE, REFERENCES, REQUIRES, TOOLS
from benchmarks.workloads import DATA

CASES = {"W1": ["step", "loop"], "W2": ["step"], "W3": ["hessian", "hvp"], "W4": ["grad"]}
THREAD_VARS = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"]
LABELS = {"step": "one SGD step", "loop": "1000 SGD steps", "grad": "gradient",
          "hessian": "200x200 Hessian", "hvp": "Hessian-vector product"}


def run_worker(tool, workload, cache, cached, args):
    """Run benchmarks.worker in a fresh process; return its JSON result."""
    env = dict(
        os.environ,
        SYMDIFF_CACHE_DIR=f"{cache}/symdiff",
        NUMBA_CACHE_DIR=f"{cache}/numba",
        JAX_COMPILATION_CACHE_DIR=f"{cache}/jax",
        PYTENSOR_FLAGS=f"base_compiledir={cache}/pytensor",
    )
    pin = None
    if args.threads:
        env.update({var: str(args.threads) for var in THREAD_VARS})
        cpus = sorted(os.sched_getaffinity(0))[-args.threads:]

        def pin():  # the only way to limit XLA's threads
            os.sched_setaffinity(0, cpus)

    out = f"{cache}/{'cached' if cached else 'cold'}.json"
    cmd = [sys.executable, "-m", "benchmarks.worker", tool, workload, out,
           "--repeats", str(args.repeats), "--min-batch", str(args.min_batch)]
    if cached:
        cmd.append("--cached")
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              check=False, timeout=args.timeout, preexec_fn=pin)
        if proc.returncode == 0:
            with open(out) as f:
                return json.load(f)
        lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
        return {"error": f"worker failed: {lines[-1][:200]}"}
    except subprocess.TimeoutExpired:
        return {"error": f"worker timed out after {args.timeout} s"}


def collect(tool, workload, args):
    """Cold (and cached) rows of one tool on one workload: {phase: {case: row}}."""
    with tempfile.TemporaryDirectory(prefix="symdiff-bench-") as cache:
        cold = run_worker(tool, workload, cache, False, args)
        if "rows" not in cold:
            status, note = ("skip", cold["skip"]) if "skip" in cold else ("error", cold["error"])
            cold["rows"] = [{"case": c, "status": status, "note": note} for c in CASES[workload]]
        res = {"version": cold.get("version"), "cold": {r["case"]: r for r in cold["rows"]}}
        if not args.no_cached and any(
                r.get("compiled") and r["status"] == "ok" for r in cold["rows"]):
            cached = run_worker(tool, workload, cache, True, args)
            res["cached"] = {r["case"]: r for r in cached.get("rows", [])}
            res["cached_error"] = cached.get("error")
    return res


def combine(runs):
    """One result from repeated runs of a (tool, workload): each row's median_s is the
    median over the runs in which it was ok (the first run's row otherwise)."""
    res = runs[0]
    for case, row in res["cold"].items():
        times = [r["cold"][case]["median_s"] for r in runs
                 if r["cold"].get(case, {}).get("status") == "ok" and "median_s" in r["cold"][case]]
        if times and row.get("status") == "ok":
            row["median_s"] = statistics.median(times)
            row["runs"] = len(times)
    return res


def fmt_time(s):
    if s is None:
        return "-"
    if s <= 0:
        return "≈0"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def compile_time(row, first_s):
    """First call (incl. building) minus a steady-state call; None if nothing compiles."""
    if not row.get("compiled") or first_s is None:
        return None
    return max(first_s - row["median_s"], 0.0)


def table(results, workloads, tools):
    """Markdown table rows, plus notes for skipped, failed and WRONG cases."""
    lines = ["| workload | tool | median | compile cold | compile cached | vs reference |",
             "|---|---|---:|---:|---:|---:|"]
    notes = []
    for wl in workloads:
        for case in CASES[wl]:
            ref = results.get((REFERENCES.get(wl, REFERENCE), wl), {}).get("cold", {}).get(case, {})
            for tool in tools:
                res = results[(tool, wl)]
                row = res["cold"][case]
                status = row["status"]
                label = f"{wl} {LABELS[case]}"
                if res.get("cached_error") and case == CASES[wl][0]:
                    notes.append(f"{wl}, {tool}: cached run failed ({res['cached_error']})")
                if status != "ok":
                    note = row.get("note")
                    notes.append(f"{label}, {tool}: {status}" + (f" ({note})" if note else ""))
                    lines.append(f"| {label} | {tool} | {status} | | | |")
                    continue
                cold = compile_time(row, row.get("first_s"))
                cached = compile_time(row, res.get("cached", {}).get(case, {}).get("first_s"))
                ratio = (f"{row['median_s'] / ref['median_s']:.2f}"
                         if ref.get("status") == "ok" else "-")
                lines.append(f"| {label} | {tool} | {fmt_time(row['median_s'])} | "
                             f"{fmt_time(cold)} | {fmt_time(cached)} | {ratio} |")
    return lines, notes


def machine():
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(ln.split(":", 1)[1].strip() for ln in lscpu.splitlines()
                     if ln.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


COMMITTED = ROOT / "benchmarks" / "results.md"


def missing_packages(tools):
    """The packages the chosen tools import that are not installed, in a stable order."""
    needed = dict.fromkeys(pkg for tool in tools for pkg in REQUIRES.get(TOOLS[tool][0], []))
    return [pkg for pkg in needed if importlib.util.find_spec(pkg) is None]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 samples of >= 20 ms each")
    ap.add_argument("--only", default=",".join(DATA), help="workloads, e.g. W1,W4")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the whole suite this many times and report, per row, the median of the runs' medians")
    ap.add_argument("--tools", default=",".join(TOOLS), help="e.g. jax,numba,symdiff")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads per process, pinned to that many cores (0: library defaults)")
    ap.add_argument("--no-cached", action="store_true", help="skip cached-compile runs")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per process")
    ap.add_argument("--out", help="also write the markdown table to this file")
    ap.add_argument("--update-results", action="store_true",
                    help=f"write the committed {COMMITTED.relative_to(ROOT)} (full runs only)")
    args = ap.parse_args()
    workloads = args.only.upper().split(",")
    tools = args.tools.split(",")
    unknown = [w for w in workloads if w not in DATA] + [t for t in tools if t not in TOOLS]
    if unknown:
        ap.error(f"unknown workload/tool: {', '.join(unknown)} "
                 f"(workloads: {', '.join(DATA)}; tools: {', '.join(TOOLS)})")
    args.repeats, args.min_batch = (3, 0.02) if args.quick else (7, 0.05)
    full = not args.quick and args.only == ap.get_default("only") \
        and args.tools == ap.get_default("tools")
    if args.update_results and not full:
        ap.error("--update-results needs a full run (no --quick, --only or --tools)")
    missing = missing_packages(tools)
    if missing:
        sys.exit(f"run.py: {', '.join(missing)} not installed; for the peers: pip install -e '.[bench]' "
                 f"(or pick installed tools with --tools)")
    outs = [Path(p) for p in [args.out] if p] + ([COMMITTED] if args.update_results else [])

    start, load_start = time.time(), os.getloadavg()[0]
    runs, versions = {}, {}
    for k in range(args.repeat):  # whole rounds, so a burst of load on the machine hits every tool alike
        for wl in workloads:
            for tool in tools:
                t0 = time.time()
                res = collect(tool, wl, args)
                runs.setdefault((tool, wl), []).append(res)
                versions[tool] = res["version"] or versions.get(tool)
                status = ", ".join(f"{c} {r['status']}" for c, r in res["cold"].items())
                print(f"[{k + 1}/{args.repeat}] {wl} {tool}: {status} ({time.time() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
    results = {key: combine(value) for key, value in runs.items()}

    lines, notes = table(results, workloads, tools)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = "\n".join([
        (f"Benchmarks run {stamp} on {machine()}; "
         f"suite took {time.time() - start:.0f} s, load average {load_start:.2f} at start, "
         f"{os.getloadavg()[0]:.2f} at end."),
        "",
        *lines,
        "",
        "Tools (a Python loop runs the 1000 steps where no compiled loop is named):",
        *[f"- {t} {versions[t] or '(not run)'}: {TOOLS[t][2]}" for t in tools],
        "",
        (f"Median: one call, median of {args.repeats} samples after a warm-up"
         + (f", then the median of {args.repeat} whole runs of the suite" if args.repeat > 1 else "")
         + ". Compile: building the function plus its first call, minus the median call; cold in a "
         "fresh process with empty caches, cached in a second fresh process (first run). "
         "vs reference: median / the reference's median; the reference is "
         + ", ".join(f"{t} for {w}" for w, t in sorted(REFERENCES.items()))
         + f", {REFERENCE} for the other workloads."),
        (f"Threads: {args.threads} per process (pinned to {args.threads} core(s); "
         f"{', '.join(THREAD_VARS)}={args.threads})." if args.threads else
         "Threads: each library's default, not pinned; the Numba reference is serial."),
        *(["", "Notes:", *[f"- {n}" for n in notes]] if notes else []),
    ]) + "\n"
    print(text)
    for out in outs:
        out.write_text(text)
        print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
