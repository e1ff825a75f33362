"""Session set-up shared by every test file.

* Each test session compiles into its own fresh kernel cache: ``SYMDIFF_CACHE_DIR``
  points at a new temporary directory before symdiff is imported (this module is
  imported by pytest before any test module), and the directory is removed when
  the session ends.  Kernels cached by an earlier run or another checkout are
  never reused, and subprocesses started by tests inherit the same directory.
* The checkout's own ``symdiff`` is the one tested (its root comes first on
  ``sys.path``, before any installed copy); ``tests/`` (shared helpers: ``cases``,
  ``oracles``) and ``examples/`` (the one definition of the two-layer network,
  ``seed_network.build_network``) are importable from every test file.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
EXAMPLES = ROOT / "examples"

_CACHE_DIR = tempfile.mkdtemp(prefix="symdiff-test-cache-")
os.environ["SYMDIFF_CACHE_DIR"] = _CACHE_DIR  # read by symdiff whenever it loads a kernel

for path in (str(EXAMPLES), str(TESTS), str(ROOT)):
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)
