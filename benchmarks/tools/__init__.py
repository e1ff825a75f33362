"""One module per tool; each exposes w1, w2, w3, w3_hvp, w4 (data -> Case), COMPILES and VERSION.

A module raises ImportError or Skip at import when its tool is unavailable, and
Skip from a workload function it does not run.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# tool name -> (module in this package, keyword options for its workload functions, what it is)
TOOLS = {
    "numba": ("numba_ref", {}, "hand-written @njit, serial, no fastmath (the reference)"),
    "numba-fastmath": ("numba_ref", {"fastmath": True}, "the reference compiled with fastmath=True"),
    "numba-parallel": ("numba_ref", {"fastmath": True, "parallel": True},
                       "the reference with fastmath=True, parallel=True: prange over rows (W1: a chunk "
                       "of rows per Numba thread)"),
    "numpy": ("numpy_ref", {}, "hand-written NumPy"),
    "symdiff": ("symdiff_fn", {}, "sd.function with updates, W1 loop: train.loop; W3: sd.hessian, sd.hvp"),
    "jax": ("jax_jit", {}, "jax.jit(value_and_grad), W1 loop: lax.fori_loop under jit; "
            "W3: jax.jit(jax.hessian), jit of jvp of grad"),
    "torch": ("torch_eager", {}, "eager mode, torch.autograd.grad; W3: torch.autograd.functional.hessian "
              "(vectorize=True) and .hvp"),
    "pytensor-numba": ("pytensor_fn", {"mode": "NUMBA"}, 'mode="NUMBA" (the default); W3: pytensor.gradient.hessian (scan)'),
    "pytensor-c": ("pytensor_fn", {"mode": "CVM"}, 'mode="CVM": C thunks via g++; W3: pytensor.gradient.hessian (scan)'),
    "autograd": ("autograd_hips", {}, "HIPS autograd value_and_grad; W3: autograd.hessian, hessian_vector_product"),
    "numpy-given-s": ("numpy_ref", {"given_weights": True},
                      "W3 only: the hand-written closed forms with s*(1 - s) computed once beforehand "
                      "(the hvp is then two matrix-vector products)"),
    "pytensor-numba-vec": ("pytensor_fn", {"mode": "NUMBA", "vectorize": True},
                           "W3 only: jacobian(grad, w, vectorize=True), mode=\"NUMBA\""),
    "pytensor-c-vec": ("pytensor_fn", {"mode": "CVM", "vectorize": True},
                       "W3 only: jacobian(grad, w, vectorize=True), mode=\"CVM\""),
}
REFERENCE = "numba"
REFERENCES = {"W3": "numpy"}  # workloads whose reference is not REFERENCE: the hand-written closed form


class Skip(Exception):
    """The tool (or one of its cases) cannot run here; the message says why."""


@dataclass
class Case:
    """A compiled/prepared workload of one tool, holding its own parameter state."""

    run: Callable[[], Any]  # one SGD step (returns the loss) or one gradient call
    state: Callable[[], list] = list  # current parameters (none by default)
    loop: Callable[[int], Any] | None = None  # n steps in one call; None: Python loop over run


# tool module -> the packages it imports beyond the runtime dependencies (run.py checks them
# before starting and names the extra that installs them)
REQUIRES = {
    "numba_ref": ["scipy"],  # Numba's @ (np.dot) calls SciPy's BLAS
    "numpy_ref": [],
    "symdiff_fn": [],
    "jax_jit": ["jax", "jaxlib"],
    "torch_eager": ["torch"],
    "pytensor_fn": ["pytensor"],
    "autograd_hips": ["autograd", "scipy"],
}
