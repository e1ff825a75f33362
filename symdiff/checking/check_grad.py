"""``check_grad``: one gradient (or Jacobian, or Hessian) three ways, compared.

For every variable it holds the compiled analytic gradient (``sd.grad`` then
``sd.function``), numeric reverse mode (:func:`~symdiff.checking.backprop.backprop`)
and central finite differences of the cost evaluated with NumPy in float64,
with the largest differences between each pair.  Finite differences on a
large variable check a seeded random sample of its entries.

For an expression that is not a scalar the check is of its Jacobian
(``sd.jacobian``): numeric reverse mode runs one sweep per entry of the
expression (its rows), finite differences one per entry of the variable (its
columns).  ``check_grad(sd.grad(loss, w), w, values)`` so checks the Hessian
of ``loss`` against finite differences of its gradient.

Nothing the caller owns is changed: finite differences perturb copies, and
shared variables given a value in ``values`` get it only for the compiled call.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..grad import grad
from ..graph.node import Node, Variable
from ..printing import pprint
from ..runtime.function import function
from ..tensor import Tensor, as_tensor
from .backprop import Tape, _var_of, backprop

METHODS = ("grad", "backprop", "fd")
PAIRS = (("grad", "backprop"), ("grad", "fd"), ("backprop", "fd"))
TOLERANCES = {"float64": (1e-5, 1e-8), "float32": (1e-3, 1e-5)}
"""Default ``(rtol, atol)`` by the lowest float precision among the cost and the variable."""

_FD_EPS = 1e-6
_FLOAT64_EPS = float(np.finfo(np.float64).eps)


@dataclass
class PairError:
    """How far two of the methods are apart on one variable."""

    abs: float  # largest |a - b|
    rel: float  # largest |a - b| / (max(|a|, |b|) + atol/rtol): an entry passes when it is <= rtol
    ok: bool


@dataclass
class VariableCheck:
    """The three gradients of one variable and how they compare."""

    name: str
    shape: tuple
    precision: str  # the lowest float precision among the cost and the variable (sets the defaults)
    formula: str  # the analytic gradient, as sd.pprint prints it
    grad: np.ndarray
    backprop: np.ndarray
    fd: np.ndarray  # finite differences; NaN at entries not sampled
    sampled: np.ndarray | None  # flat indices finite differences checked (None: all)
    rtol: float
    atol: float
    fd_noise: float  # rounding allowance added to atol in pairs with fd: ~eps64 * |cost| / step
    errors: dict = field(default_factory=dict)  # (method, method) -> PairError
    rows: int = 1  # entries of the checked expression: 1 for a cost, more for a Jacobian (shape = its shape + the variable's)
    sampled_rows: np.ndarray | None = None  # for a Jacobian: the rows reverse mode computed (None: all)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.errors.values())

    @property
    def variable_size(self) -> int:
        """The number of entries of the variable."""
        return int(np.prod(self.shape)) // self.rows if self.rows else 0

    @property
    def suspect(self) -> str | None:
        """The method that disagrees with both others while they agree (None if no such one)."""
        if self.ok:
            return None
        for m in METHODS:
            others = [p for p in PAIRS if m not in p]
            if all(self.errors[p].ok for p in others) and all(not e.ok for p, e in self.errors.items() if m in p):
                return m
        return None


class GradCheckReport:
    """The result of :func:`check_grad`: one :class:`VariableCheck` per variable.

    ``print(report)`` shows a table; ``report.ok`` says whether all agree;
    ``report["w0"]`` (or ``report[0]``) is one variable's check; ``report.cost``
    is the cost's value (the expression's array when a Jacobian was checked).
    """

    def __init__(self, cost_value, checks: list, fd_eps: float, seed: int):
        self.cost = cost_value
        self.checks = checks
        self.fd_eps = fd_eps
        self.seed = seed

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def __getitem__(self, key) -> VariableCheck:
        if isinstance(key, int):
            return self.checks[key]
        for c in self.checks:
            if c.name == key:
                return c
        raise KeyError(key)

    def __iter__(self):
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def __repr__(self) -> str:
        status = "ok" if self.ok else "FAILED: " + ", ".join(c.name for c in self.checks if not c.ok)
        return f"<GradCheckReport {len(self.checks)} variable(s), {status}>"

    def __str__(self) -> str:
        header = ["variable", "shape", "gradient", "grad~backprop", "grad~fd", "backprop~fd", "result"]
        rows, notes = [], []
        for c in self.checks:
            fd_mark = ""
            if c.sampled is not None:
                fd_mark = "*"
                notes.append(f"* {c.name}: finite differences on a random sample of {len(c.sampled)} of "
                             f"{c.variable_size} entries of the variable (seed {self.seed})")
            if c.sampled_rows is not None:
                notes.append(f"{c.name}: reverse mode on a random sample of {len(c.sampled_rows)} of "
                             f"{c.rows} rows of the Jacobian (seed {self.seed})")
            result = "pass" if c.ok else "FAIL" + (f" ({c.suspect} is off)" if c.suspect else "")
            errors = [f"{c.errors[p].rel:.1e}" + (fd_mark if "fd" in p else "") + ("" if c.errors[p].ok else " !") for p in PAIRS]
            rows.append([c.name, _fmt_shape(c.shape), _short_formula(c.formula), *errors, result])
        widths = [max(len(str(r[k])) for r in [header] + rows) for k in range(len(header))]
        lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header] + rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        tolerances = sorted({(c.precision, c.rtol, c.atol) for c in self.checks})
        legend = [
            "errors: largest |a - b| / (max(|a|, |b|) + atol/rtol) over the entries; an entry passes when this is <= rtol",
            "tolerances: " + "; ".join(f"{d} rtol={r:g} atol={a:g}" for d, r, a in tolerances)
            + f"; finite differences: central, step {self.fd_eps:g}*max(1, |x|), cost evaluated in float64",
        ]
        return "\n".join(lines + [""] + legend + notes)


def _fmt_shape(shape: tuple) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _formula_text(g: Tensor) -> str:
    """``pprint(g)``; a printing failure is shown, not raised (it must not hide the numbers)."""
    try:
        return pprint(g)
    except Exception as error:  # noqa: BLE001 - any printer bug
        return f"<pprint failed: {type(error).__name__}>"


def _short_formula(text: str, width: int = 40) -> str:
    """A pprint formula on one line (its where-list after it), cut to ``width``."""
    main, _, where = text.partition("\nwhere\n")
    line = main + ("  where " + "; ".join(" ".join(d.split()) for d in where.split("\n")) if where else "")
    return line if len(line) <= width else line[: width - 3] + "..."


def _pair_error(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> PairError:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = np.abs(a - b)
    size = np.maximum(np.abs(a), np.abs(b))
    if diff.size == 0:
        return PairError(0.0, 0.0, True)
    with np.errstate(invalid="ignore"):
        rel = diff / (size + atol / rtol)
        ok = bool(np.all(diff <= atol + rtol * size))
    return PairError(float(np.max(diff)), float(np.max(rel)), ok)


@contextlib.contextmanager
def _shared_values(env: dict):
    """Shared variables hold the given values while the block runs, their own again after."""
    saved = []
    try:
        for var, value in env.values():
            if var.role == "shared":
                saved.append((var.storage, var.storage.value))
                var.storage.value = np.array(value, dtype=var.dtype)
        yield
    finally:
        for storage, value in saved:
            storage.value = value


def _finite_differences(tape: Tape, cost: Node, target: Node, indices: np.ndarray, eps: float) -> tuple:
    """Central differences of the cost along each flat index of ``target``, and their
    rounding allowance (``eps64 * |cost| / step``, largest over the indices)."""
    base = np.array(tape.values[id(target)], dtype=np.float64)
    point = base.copy()
    flat = point.reshape(-1)
    out = np.full(base.size, np.nan)
    noise = 0.0
    for i in indices:
        old = flat[i]
        step = eps * max(1.0, abs(old))
        flat[i] = old + step
        up, x_up = float(tape.rerun(target, point.copy())[id(cost)]), flat[i]
        flat[i] = old - step
        down, x_down = float(tape.rerun(target, point.copy())[id(cost)]), flat[i]
        flat[i] = old
        out[i] = (up - down) / (x_up - x_down)
        noise = max(noise, 8 * _FLOAT64_EPS * max(abs(up), abs(down)) / (x_up - x_down))
    return out.reshape(base.shape), noise


def check_grad(
    cost: Tensor,
    wrt: Tensor | Sequence[Tensor],
    values: Mapping,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    sample: int | None = 100,
    seed: int = 0,
) -> GradCheckReport:
    """Compare the compiled analytic gradient, numeric reverse mode and central
    finite differences of ``cost`` for each variable in ``wrt``.

    >>> X, y, w = sd.matrix("X"), sd.vector("y"), sd.vector("w")
    >>> report = sd.check_grad(sd.mean((X @ w - y) ** 2), w,
    ...                        {X: np.eye(2), y: np.ones(2), w: np.array([0.5, -1.0])})
    >>> report.ok
    True

    ``values`` maps the cost's inputs to arrays (as for :func:`backprop`; shared
    variables default to their current value).  Finite differences step by
    ``eps * max(1, |x|)`` (``eps`` defaults to 1e-6) on the cost evaluated with
    NumPy in float64; on a variable with more than ``sample`` entries they check
    ``sample`` entries drawn with ``seed`` (``sample=None``: all).  An entry of a
    pair passes when ``|a - b| <= atol + rtol * max(|a|, |b|)``; the defaults
    come from the dtype (:data:`TOLERANCES`), and pairs with finite differences
    also allow for their rounding error.

    A ``cost`` that is not a scalar is an expression whose Jacobian is checked
    (``sd.jacobian`` compiled, numeric reverse mode one row at a time, finite
    differences one column at a time; ``sample`` caps both): pass a gradient to
    check a Hessian against finite differences of that gradient.
    """
    cost = as_tensor(cost)
    targets = [as_tensor(t) for t in ([wrt] if isinstance(wrt, Tensor) else wrt)]
    if (rtol is not None and rtol <= 0) or (atol is not None and atol < 0):
        raise ValueError(f"check_grad: need rtol > 0 and atol >= 0, got rtol={rtol}, atol={atol}")
    eps = _FD_EPS if eps is None else eps
    env = {id(_var_of(k)): (_var_of(k), np.array(v)) for k, v in values.items()}
    given = {var: value for var, value in env.values()}
    if cost.ndim:
        return _check_jacobian(cost, targets, env, eps, rtol, atol, sample, seed)

    bp = backprop(cost, targets, {Tensor(v): a for v, a in given.items()})  # first: clear errors for missing values
    inputs = [Tensor(v) for v in given if v.role == "input"]
    grads = _as_list(grad(cost, targets, disconnected="ignore"))
    with _shared_values(env):
        analytic = _as_list(function(inputs, grads)(*(given[v.node] for v in inputs)))

    tape = Tape([cost.node], {Tensor(v): a for v, a in given.items()}, precision="float64")
    rng = np.random.default_rng(seed)
    checks = []
    for k, (t, g, a, b) in enumerate(zip(targets, grads, analytic, bp)):
        size = int(np.prod(np.shape(b)))
        sampled = None if sample is None or size <= sample else np.sort(rng.choice(size, sample, replace=False))
        if id(t.node) not in tape.values:  # a variable the cost does not depend on
            fd, noise = np.zeros(np.shape(b)), 0.0
        else:
            fd, noise = _finite_differences(tape, cost.node, t.node, np.arange(size) if sampled is None else sampled, eps)
        precision = "float32" if "float32" in (cost.dtype, t.dtype) else "float64"
        r, at = TOLERANCES[precision]
        r, at = r if rtol is None else rtol, at if atol is None else atol
        arrays = {"grad": np.asarray(a), "backprop": np.asarray(b), "fd": fd}
        check = VariableCheck(
            name=t.node.name or f"wrt[{k}]", shape=tuple(np.shape(b)), precision=precision, formula=_formula_text(g),
            grad=arrays["grad"], backprop=arrays["backprop"], fd=fd, sampled=sampled, rtol=r, atol=at, fd_noise=noise,
        )
        for p, q in PAIRS:
            x, y = arrays[p].reshape(-1), arrays[q].reshape(-1)
            if "fd" in (p, q) and sampled is not None:
                x, y = x[sampled], y[sampled]
            check.errors[(p, q)] = _pair_error(x, y, r, at + (noise if "fd" in (p, q) else 0.0))
        checks.append(check)
    return GradCheckReport(float(tape.values[id(cost.node)]), checks, eps, seed)


def _check_jacobian(expr: Tensor, targets: list, env: dict, eps: float, rtol, atol, sample, seed: int) -> GradCheckReport:
    """:func:`check_grad` for a non-scalar ``expr``: its Jacobian three ways."""
    from ..derivatives import jacobian

    given = {var: value for var, value in env.values()}
    bound = {Tensor(v): a for v, a in given.items()}
    reverse = Tape([expr.node], bound)  # first: clear errors for missing values
    for t in targets:
        if id(t.node) not in reverse.values and not isinstance(t.node, Variable):
            raise ValueError(f"check_grad: {t.node.name or 'an expression'!r} is not a node of the expression's graph")
    value = np.asarray(reverse.values[id(expr.node)])
    inputs = [Tensor(v) for v in given if v.role == "input"]
    jacs = _as_list(jacobian(expr, targets, disconnected="ignore"))
    with _shared_values(env):
        analytic = [np.asarray(a) for a in _as_list(function(inputs, jacs)(*(given[v.node] for v in inputs)))]

    tape = Tape([expr.node], bound, precision="float64")
    rng = np.random.default_rng(seed)
    rows = value.size
    sampled_rows = None if sample is None or rows <= sample else np.sort(rng.choice(rows, sample, replace=False))
    row_index = np.arange(rows) if sampled_rows is None else sampled_rows
    shapes = [np.shape(tape.values[id(t.node)]) if id(t.node) in tape.values else np.shape(reverse.leaf(t.node))
              for t in targets]
    numeric = [np.full((rows, int(np.prod(shape))), np.nan) for shape in shapes]
    for i in row_index:
        one_hot = np.zeros(rows)
        one_hot[i] = 1.0
        adjoints = reverse.backward(expr.node, [t.node for t in targets], one_hot.reshape(value.shape))
        for k, t in enumerate(targets):
            numeric[k][i] = np.ravel(adjoints[id(t.node)]) if id(t.node) in adjoints else 0.0
    checks = []
    for k, (t, jac, a, shape) in enumerate(zip(targets, jacs, analytic, shapes)):
        size = int(np.prod(shape))
        columns = None if sample is None or size <= sample else np.sort(rng.choice(size, sample, replace=False))
        column_index = np.arange(size) if columns is None else columns
        fd = np.full((rows, size), np.nan)
        noise = 0.0
        if id(t.node) in tape.values:
            fd_columns, noise = _finite_difference_columns(tape, expr.node, t.node, column_index, eps)
            fd[:, column_index] = fd_columns
        else:
            fd[:, column_index] = 0.0
        precision = "float32" if "float32" in (expr.dtype, t.dtype) else "float64"
        r, at = TOLERANCES[precision]
        r, at = r if rtol is None else rtol, at if atol is None else atol
        flat = a.reshape(rows, size)
        check = VariableCheck(
            name=t.node.name or f"wrt[{k}]", shape=tuple(value.shape) + tuple(shape), precision=precision,
            formula=_formula_text(jac), grad=a, backprop=numeric[k].reshape(a.shape), fd=fd.reshape(a.shape),
            sampled=columns, rtol=r, atol=at, fd_noise=noise, rows=rows, sampled_rows=sampled_rows,
        )
        check.errors[("grad", "backprop")] = _pair_error(flat[row_index], numeric[k][row_index], r, at)
        check.errors[("grad", "fd")] = _pair_error(flat[:, column_index], fd[:, column_index], r, at + noise)
        check.errors[("backprop", "fd")] = _pair_error(numeric[k][np.ix_(row_index, column_index)],
                                                       fd[np.ix_(row_index, column_index)], r, at + noise)
        checks.append(check)
    return GradCheckReport(value, checks, eps, seed)


def _finite_difference_columns(tape: Tape, expr: Node, target: Node, indices: np.ndarray, eps: float) -> tuple:
    """Central differences of the expression along each flat index of ``target``
    (one column of the Jacobian each, rows = the expression's entries), and
    their rounding allowance."""
    base = np.array(tape.values[id(target)], dtype=np.float64)
    point = base.copy()
    flat = point.reshape(-1)
    out = np.zeros((np.size(tape.values[id(expr)]), len(indices)))
    noise = 0.0
    for col, i in enumerate(indices):
        old = flat[i]
        step = eps * max(1.0, abs(old))
        flat[i] = old + step
        up, x_up = np.ravel(tape.rerun(target, point.copy())[id(expr)]).astype(np.float64), flat[i]
        flat[i] = old - step
        down, x_down = np.ravel(tape.rerun(target, point.copy())[id(expr)]).astype(np.float64), flat[i]
        flat[i] = old
        out[:, col] = (up - down) / (x_up - x_down)
        scale = max(float(np.max(np.abs(up), initial=0.0)), float(np.max(np.abs(down), initial=0.0)))
        noise = max(noise, 8 * _FLOAT64_EPS * scale / (x_up - x_down))
    return out, noise


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]
