"""The op set with its NumPy equivalent, as a Markdown table generated from the code.

It is the README's section "The op set": run ``python tests/op_table.py`` and paste
its output there; ``test_docstrings.py`` checks the README holds what this prints.

Each ``sd.NAME`` op is listed with the NumPy function that dispatches to it
on a symbolic tensor (``np.exp(x)`` calls ``sd.exp``: the mapping of
:mod:`symdiff.ops.numpy_ufuncs`), or, for ops NumPy spells otherwise, the
NumPy expression of :data:`NUMPY_SPELLING`.  The derivative column is what
``sd.grad`` prints for the example in :data:`EXAMPLES`.
"""
from __future__ import annotations

import sys
import types

import symdiff as sd
from symdiff.ops import elementwise, indexing, linalg, numpy_ufuncs, reductions, shape

SECTIONS = [
    ("Elementwise", elementwise, "d/dx of sum(f(x))"),
    ("Reductions", reductions, "gradient"),
    ("Linear algebra", linalg, "gradient"),
    ("Shape", shape, "gradient"),
    ("Indexing and integer data", indexing, "gradient"),
]
"""Sections of the table: the module whose exported ``sd.NAME`` functions they list."""

NUMPY_SPELLING = {
    "sigmoid": "`1/(1 + np.exp(-x))`",
    "softplus": "`np.logaddexp(0, x)`",
    "relu": "`np.maximum(x, 0)`",
    "cast": "`x.astype(dtype)`",
    "logsumexp": "`scipy.special.logsumexp`",
    "softmax": "`scipy.special.softmax`",
    "log_softmax": "`scipy.special.log_softmax`",
    "arange": "`np.arange(n)`",
    "onehot": "`np.eye(k)[labels]`",
}
"""NumPy (or SciPy) spellings of ops that no NumPy function dispatches to."""

OPERATORS = [
    ("`x + y`, `x - y`, `x * y`, `x / y`, `x ** y`, `-x`", "the same operators", "yes"),
    ("`x @ y` (`sd.matmul`), batched with broadcast leading axes", "`x @ y`", "yes"),
    ("`x < y`, `<=`, `>`, `>=`, `==`, `!=`; `&`, `\\|`, `~` on bool", "the same operators", "none (bool)"),
    ("`abs(x)`", "`abs(x)`", "`sign(x)`"),
    ("`x[1:, ::2]`, `x[None]`, `x[..., 0]`", "basic indexing", "yes"),
    ("`x[idx]`, `x[:, idx]`, `x[rows, cols]` with integer arrays or tensors", "advanced indexing",
     "yes (scatter-add)"),
    ("`.T`, `.transpose()`, `.reshape()`, `.flatten()`, `.ravel()`, `.astype()`, `.dot()`", "the same methods",
     "yes"),
    ("`.sum() .mean() .max() .min() .prod() .var() .std() .argmax() .argmin() .clip()`", "the same methods",
     "as the functions"),
]
"""Operators and methods, with their NumPy spelling and gradient."""


SHOWN_EXAMPLES = {
    "where": "sd.where(x > 0, x, 0.1*x)",
    "maximum": "sd.maximum(x, 0)",
    "minimum": "sd.minimum(x, 0)",
    "clip": "sd.clip(x, -1, 1)",
    "cast": 'sd.cast(x, "float32")',
}
"""The elementwise ops of more than one operand, as the derivative column differentiates them."""


def _examples() -> dict:
    """An expression of ``x`` (or ``X``) for each op whose derivative the table shows
    (``None`` for the variable: an op of integer data)."""
    x, X = sd.vector("x"), sd.matrix("X")
    return {
        **{name: ((lambda text=text: eval(text, {"sd": sd, "x": x})), x) for name, text in SHOWN_EXAMPLES.items()},
        "argmax": (lambda: sd.argmax(X, axis=1) * 1.0, X),
        "argmin": (lambda: sd.argmin(X, axis=1) * 1.0, X),
        "softmax": (lambda: sd.softmax(X, axis=1), X),
        "log_softmax": (lambda: sd.log_softmax(X, axis=1), X),
        "dot": (lambda: sd.dot(X, x), X),
        "matmul": (lambda: sd.matmul(X, x), X),
        "outer": (lambda: sd.outer(x, x), x),
        "broadcast_to": (lambda: sd.broadcast_to(x, (3, x.shape[0])), x),
        "concatenate": (lambda: sd.concatenate([x, x]), x),
        "stack": (lambda: sd.stack([x, x]), x),
        "expand_dims": (lambda: sd.expand_dims(x, 0), x),
        "reshape": (lambda: sd.reshape(X, (-1,)), X),
        "transpose": (lambda: sd.transpose(X), X),
        "take": (lambda: sd.take(x, [0, 0]), x),
        "arange": (lambda: sd.arange(x.shape[0]) * x, None),
        "onehot": (lambda: sd.onehot(sd.vector("labels", dtype="int64"), 3), None),
    }


def exported_ops(module: types.ModuleType) -> list:
    """Names of the ``sd.NAME`` functions defined in ``module``, in alphabetical order."""
    return sorted(n for n in dir(sd) if not n.startswith("_") and isinstance(getattr(sd, n), types.FunctionType)
                  and getattr(sd, n).__module__ == module.__name__)


def _numpy_names() -> dict:
    """``{sd function: ["`np.exp`", ...]}`` from the dispatch tables of ``np.f(tensor)``."""
    found: dict = {}
    for table in (numpy_ufuncs._ufuncs(), numpy_ufuncs._functions()):
        for np_func, fn in table.items():
            spelled = f"`np.{np_func.__name__}`"
            found.setdefault(fn, [])
            if spelled not in found[fn]:
                found[fn].append(spelled)
    return found


def _derivative(name: str, elementwise_op: bool) -> str:
    x = sd.vector("x")
    build, wrt = _examples().get(name, (lambda: getattr(sd, name)(x), x))
    if wrt is None:
        return "none (integer data)"
    try:
        g = sd.grad(sd.sum(build()), wrt)
    except ValueError:
        return "none (integer result)"
    if not elementwise_op:
        return "yes"
    text = sd.pprint(g)
    if "\n" in text:  # a where-list: definitions after the formula
        main, _, defs = text.partition("\nwhere\n")
        text = main + " where " + ", ".join(d.strip() for d in defs.splitlines())
    return f"of `{SHOWN_EXAMPLES[name]}`: `{text}`" if name in SHOWN_EXAMPLES else f"`{text}`"


def table() -> str:
    """The Markdown document."""
    numpy_names = _numpy_names()
    out = ["Every op is `sd.NAME(..., name=None)`; a NumPy function in the second column, applied to a "
           "symbolic tensor, builds the same node. Generated by `tests/op_table.py`.", ""]
    for title, module, derivative_title in SECTIONS:
        out += [f"### {title}", "", f"| symdiff | NumPy | {derivative_title} |", "|---|---|---|"]
        for name in exported_ops(module):
            fn = getattr(sd, name)
            spelled = ", ".join(numpy_names.get(fn, [])) or NUMPY_SPELLING.get(name, "")
            derivative = _derivative(name, module is elementwise)
            out.append(f"| `sd.{name}` | {spelled} | {derivative} |")
        out.append("")
    out += ["### Operators and methods", "", "| symdiff | NumPy | gradient |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in OPERATORS]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table())
