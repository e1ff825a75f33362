"""One module per tool; each exposes w1, w2, w4 (data -> Case), COMPILES and VERSION.

A module raises ImportError or Skip at import when its tool is unavailable.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# tool name -> (module in this package, keyword options for its workload functions)
TOOLS = {
    "numba": ("numba_ref", {}),
    "numpy": ("numpy_ref", {}),
    "symdiff": ("symdiff_fn", {}),
    "jax": ("jax_jit", {}),
    "torch": ("torch_eager", {}),
    "pytensor-numba": ("pytensor_fn", {"mode": "NUMBA"}),
    "pytensor-c": ("pytensor_fn", {"mode": "CVM"}),
    "autograd": ("autograd_hips", {}),
}
REFERENCE = "numba"


class Skip(Exception):
    """The tool (or one of its cases) cannot run here; the message says why."""


@dataclass
class Case:
    """A compiled/prepared workload of one tool, holding its own parameter state."""

    run: Callable[[], Any]  # one SGD step (returns the loss) or one gradient call
    state: Callable[[], list] = list  # current parameters (none by default)
    loop: Callable[[int], Any] | None = None  # n steps in one call; None: Python loop over run
