"""The benchmark harness for a newcomer, without the peers installed: benchmarks/run.py
names what to install in one line and never touches the committed results unless asked;
symdiff's benchmark tool computes what workloads.py's hand-derived NumPy reference does."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import workloads as wl  # the checkout's root is on sys.path (conftest.py)
from benchmarks.worker import agrees

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
COMMITTED = ROOT / "benchmarks" / "results.md"


def run_harness(*args: str, hide=()) -> subprocess.CompletedProcess:
    """benchmarks/run.py in a fresh interpreter in which the packages ``hide`` cannot be imported."""
    launcher = ("import runpy, sys\n"
                f"for name in {list(hide)!r}: sys.modules[name] = None\n"
                f"sys.argv = [{str(RUN)!r}, *{list(args)!r}]\n"
                f"runpy.run_path({str(RUN)!r}, run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_without_the_bench_extra_one_line_says_what_to_install():
    before = COMMITTED.read_bytes()
    proc = run_harness(hide=["jax", "jaxlib", "torch", "pytensor", "autograd", "scipy"])
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "pip install -e '.[bench]'" in lines[0]
    for name in ("jax", "torch", "pytensor", "autograd", "scipy"):
        assert name in lines[0]
    assert proc.stdout == ""
    assert COMMITTED.read_bytes() == before


def test_installed_tools_run_and_the_committed_results_stay(tmp_path):
    """Only the chosen (installed) tools run; the table goes to stdout and --out, not to results.md."""
    before = COMMITTED.read_bytes()
    out = tmp_path / "table.md"
    proc = run_harness("--only", "W4", "--tools", "numpy", "--quick", "--no-cached", "--out", str(out),
                       hide=["jax", "torch"])
    assert proc.returncode == 0, proc.stderr
    assert "| W4 gradient | numpy | " in proc.stdout
    assert "| W4 gradient | numpy | " in out.read_text()
    assert "WRONG" not in proc.stdout and "error" not in proc.stdout
    assert COMMITTED.read_bytes() == before


def test_update_results_only_for_a_full_run():
    before = COMMITTED.read_bytes()
    proc = run_harness("--only", "W4", "--update-results")
    assert proc.returncode == 2 and "--update-results needs a full run" in proc.stderr
    assert COMMITTED.read_bytes() == before


@pytest.mark.parametrize("workload", ["W1", "W2", "W4"])
def test_symdiff_tool_matches_the_numpy_reference(workload):
    """What the harness checks before timing, on the benchmark's own data: one step (or
    gradient), and for W1 the compiled 1000-step loop after it."""
    from benchmarks.tools import symdiff_fn

    data = wl.DATA[workload]()
    want = wl.expected(workload, data)
    case = getattr(symdiff_fn, workload.lower())(data)
    first = "grad" if workload == "W4" else "step"
    got = [case.run(), *case.state()]
    assert agrees(got, want[first])
    assert not agrees(got, [w * 1.001 for w in want[first]])  # the comparison can tell a 0.1% error
    if workload == "W1":
        before = [p.copy() for p in case.state()]
        case.loop(wl.LOOP_STEPS)
        assert agrees(case.state(), want["loop"])
        assert max(np.abs(a - b).max() for a, b in zip(case.state(), before)) > 1e-3  # the loop moved them
