"""Benchmark symdiff.codegen.fastmath against libm inside njit loops.

For each op, times ``for i in range(n): out[i] = f(x[i])`` compiled with
``numba.njit`` for the branch-free ``fast_*`` implementation and for the libm
one the code generator would otherwise emit (``math.exp`` ... ``libm_sigmoid``),
and, for context, the NumPy ufunc on the whole array (NumPy ships its own SIMD
loops for some float64/float32 functions).  Reports the median of several
repeats in ms, the speedup of fast over libm, and whether the fast loop's
machine code is vectorised: packed SIMD instructions (``...pd``/``...ps`` on
xmm/ymm/zmm registers) in the loop function and no call left in it.

    python -m benchmarks.bench_fastmath [--n 1000000] [--repeats 7] [--dtype float64]
"""

import argparse
import math
import re
import time

import llvmlite.binding as llvm
import numpy as np
from numba import njit

from symdiff.codegen import fastmath as fm

# op -> (NumPy ufunc or None, input generator)
_INPUTS = {
    "exp": (np.exp, lambda rng, n: rng.uniform(-80, 80, n)),
    "log": (np.log, lambda rng, n: np.exp(rng.uniform(-80, 80, n))),
    "log1p": (np.log1p, lambda rng, n: np.exp(rng.uniform(-30, 30, n)) - 0.5),
    "expm1": (np.expm1, lambda rng, n: rng.uniform(-30, 30, n)),
    "tanh": (np.tanh, lambda rng, n: rng.uniform(-10, 10, n)),
    "sigmoid": (None, lambda rng, n: rng.uniform(-30, 30, n)),
    "softplus": (None, lambda rng, n: rng.uniform(-30, 30, n)),
    "sinh": (np.sinh, lambda rng, n: rng.uniform(-30, 30, n)),
    "cosh": (np.cosh, lambda rng, n: rng.uniform(-30, 30, n)),
}

_NS = {"math": math, **{name: getattr(fm, name) for name in fm.__all__}}


def make_loop(expr):
    """njit ``out[i] = expr(x[i])`` where expr is a name from FAST/LIBM."""
    src = f"def loop(x, out):\n    for i in range(x.shape[0]):\n        out[i] = {expr}(x[i])\n"
    ns = dict(_NS)
    exec(src, ns)
    return njit(ns["loop"])


def median_ms(fns, repeats):
    """Median wall time in ms of each callable; the callables take turns so
    that load from other processes hits them alike."""
    for fn in fns:
        fn()  # warm-up (and compilation)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [1e3 * float(np.median(ts)) for ts in times]


def loop_asm(dispatcher):
    """Machine code of the compiled loop itself (without the CPython wrapper)."""
    asm = next(iter(dispatcher.inspect_asm().values()))
    body = asm.split("\n\t.globl\t", 2)[1]  # first function: the loop
    return body.split("\n\t.size\t", 1)[0]


def vector_report(asm):
    packed = re.findall(r"^\s+(v\w+p[sd])\s[^\n]*%([xyz])mm", asm, re.M)
    widest = max((reg for _, reg in packed), default="-", key="xyz".index)
    fma = sum(1 for op, _ in packed if "fmadd" in op or "fnmadd" in op or "fmsub" in op)
    calls = len(re.findall(r"^\s+call", asm, re.M))
    return len(packed), fma, f"{widest}mm" if packed else "-", calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = ap.parse_args()
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)

    print(f"n = {args.n}, dtype = {dtype}, median of {args.repeats} runs, "
          f"CPU {llvm.get_host_cpu_name()}")
    print(f"{'op':9s} {'fast ms':>8s} {'libm ms':>8s} {'speedup':>8s} {'numpy ms':>9s}"
          f"   fast loop: packed ops / packed FMAs / widest reg / calls")
    for op, (ufunc, gen) in _INPUTS.items():
        x = gen(rng, args.n).astype(dtype)
        out = np.empty_like(x)
        fast = make_loop(fm.FAST[op])
        libm = make_loop(fm.LIBM[op])
        fns = [lambda: fast(x, out), lambda: libm(x, out)]
        if ufunc is not None:
            fns.append(lambda: ufunc(x, out=out))
        t_fast, t_libm, t_np = (median_ms(fns, args.repeats) + [float("nan")])[:3]
        packed, fma, width, calls = vector_report(loop_asm(fast))
        print(f"{op:9s} {t_fast:8.3f} {t_libm:8.3f} {t_libm / t_fast:7.1f}x {t_np:9.3f}"
              f"   {packed:4d} / {fma:3d} / {width} / {calls}")


if __name__ == "__main__":
    main()
