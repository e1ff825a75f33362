"""How symdiff's costs grow with the size of the model (issue: linear in the size of the model).

For each family of graphs at size n and 2n, prints the time of ``sd.grad``,
``sd.pprint`` of the gradient and ``sd.function`` (which compiles at once),
the node counts of the function and of its gradient, the printed length, and
the 2n/n ratios.  Linear cost means ratios near 2 (targets: at most 2.5).

    python benchmarks/scale.py            # every family, with compile
    python benchmarks/scale.py --quick    # no compile; smaller sizes
    python benchmarks/scale.py --mlp 100 200   # the residual MLP compile targets

Each measurement runs in a fresh process with an empty kernel cache, so a
compile is a cold compile; in it, grad and pprint are the median over
``BUILDS`` graphs built afresh; the median of ``--repeat`` runs is quoted.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def logistic_map(sd, n):
    x = sd.scalar("x")
    l = x
    for _ in range(n):
        l = 4 * l * (1 - l)
    return l, [x]


def product_chain(sd, n):
    xs = [sd.scalar(f"x{k}") for k in range(n)]
    p = xs[0]
    for x in xs[1:]:
        p = p * x
    return p, xs


def square_recursion(sd, n):
    c = sd.scalar("c")
    p = c
    for _ in range(n):
        p = p**2 + c
    return p, [c]


def residual_mlp(sd, n):
    import numpy as np

    rng = np.random.default_rng(0)
    X = sd.matrix("X", shape=(None, 4))
    h = X
    weights = []
    for i in range(n):
        W = sd.shared(rng.standard_normal((4, 4)) * 0.3, name=f"W{i}")
        b = sd.shared(np.zeros(4), name=f"b{i}")
        weights += [W, b]
        h = h + sd.tanh(h @ W + b)
    return sd.mean(h**2), weights


def lstm_cell(sd, n):
    xs = [sd.vector(f"x{t}") for t in range(n)]
    f, i = sd.vector("f"), sd.vector("i")
    c = sd.vector("c0")
    for x in xs:
        c = f * c + i * sd.tanh(x + c)
    return sd.sum(c), [f, i]


FAMILIES = {
    "logistic map": (logistic_map, (50, 100, 200)),
    "product chain": (product_chain, (250, 500)),
    "p = p**2 + c": (square_recursion, (50, 100)),
    "residual tanh MLP": (residual_mlp, (50, 100)),
    "LSTM-style cell": (lstm_cell, (50, 100)),
}


BUILDS = 5  # grad and pprint: median over this many graphs built afresh in one process


def measure(family: str, n: int, compile_: bool) -> dict:
    """One measurement, in this process: ``sd.grad`` and ``sd.pprint`` timed on
    BUILDS graphs built afresh (the median: the first also pays one-time imports and
    caches, tens of ms that would swamp the small sizes), ``sd.function`` once, cold."""
    import symdiff as sd
    from symdiff.graph.walk import count_nodes

    build, _ = FAMILIES[family]
    t_grads, t_prints = [], []
    for _ in range(BUILDS):
        cost, wrt = build(sd, n)
        start = time.perf_counter()
        grads = sd.grad(cost, wrt)
        t_grads.append(time.perf_counter() - start)
        start = time.perf_counter()
        text = sd.pprint(list(grads))
        t_prints.append(time.perf_counter() - start)
    out = {
        "grad": statistics.median(t_grads),
        "pprint": statistics.median(t_prints),
        "nodes": count_nodes([cost.node]),
        "grad_nodes": count_nodes([g.node for g in grads]),
        "printed": len(text),
    }
    if compile_:
        inputs = [v for v in _inputs_of(cost) if v.node.role == "input"]
        start = time.perf_counter()
        f = sd.function(inputs, [cost] + list(grads))
        out["function"] = time.perf_counter() - start
        out["kernel_lines"] = f.source.count("\n")
    return out


def _inputs_of(cost):
    import symdiff as sd
    from symdiff.graph.node import Variable
    from symdiff.graph.walk import postorder

    return [sd.Tensor(n) for n in postorder([cost.node]) if isinstance(n, Variable)]


def run_fresh(family: str, n: int, compile_: bool) -> dict:
    """:func:`measure` in a new process with an empty kernel cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, SYMDIFF_CACHE_DIR=cache)
        code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.scale import measure; "
                f"print(json.dumps(measure({family!r}, {n}, {compile_})))")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-2000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="no compile")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--family", action="append", help="only these families")
    parser.add_argument("--mlp", nargs="*", type=int, help="residual MLP sizes for the compile targets")
    args = parser.parse_args()
    families = {k: v for k, v in FAMILIES.items() if not args.family or k in args.family}
    if args.mlp:
        families = {"residual tanh MLP": (residual_mlp, tuple(args.mlp))}
    columns = ["grad", "pprint", "function"] if not args.quick else ["grad", "pprint"]
    print(f"{'family':20} {'n':>5} " + " ".join(f"{c + ' s':>10}" for c in columns)
          + f" {'nodes':>7} {'grad nodes':>10} {'ratio':>6} {'printed':>8}")
    for family, (_, sizes) in families.items():
        rows = []
        for n in sizes:
            runs = [run_fresh(family, n, not args.quick) for _ in range(args.repeat)]
            row = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            rows.append((n, row))
            print(f"{family:20} {n:>5} " + " ".join(f"{row[c]:>10.3f}" for c in columns)
                  + f" {row['nodes']:>7.0f} {row['grad_nodes']:>10.0f} {row['grad_nodes'] / row['nodes']:>6.2f}"
                  + f" {row['printed']:>8.0f}", flush=True)
        for (n1, r1), (n2, r2) in zip(rows, rows[1:]):
            ratios = " ".join(f"{c} {r2[c] / r1[c]:.2f}" for c in columns + ["printed"] if r1[c] > 0)
            print(f"{'':20} {f'{n2}/{n1}':>5}  {ratios}")


if __name__ == "__main__":
    main()
