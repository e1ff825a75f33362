"""Differential random-graph testing of symdiff (issue 8, point 4).

A seeded generator writes small random programs over the inputs ``A`` (4x3),
``B`` (3x4), ``v`` (3,), ``u`` (4,), ``s`` () and, in update cases, shared
variables.  Each program is Python source in which every op is spelled
``sd.NAME(...)``, an operator or a method, so the same text runs twice:

* with ``sd`` = symdiff, on symbolic tensors: the graph under test, compiled
  by ``sd.function`` together with ``sd.grad`` and the updates;
* with ``sd`` = :class:`NumpyOps` (plain NumPy, written here, sharing no code
  with symdiff), on arrays: the reference forward values.

Gradients are checked against ``sd.backprop`` and against central finite
differences of the NumPy program.  The generator knows every intermediate
value while it builds a program, so it keeps inputs in valid domains (log of
positive values, arcsin inside (-1, 1), ...) and keeps non-smooth ops (abs,
relu, maximum, max, where, clip, argmax) away from their kinks, so that
finite differences are a valid oracle.

Several programs share one compiled function (their outputs side by side) to
keep Numba's compile time affordable; when a batch fails to compile or run it
is bisected down to the failing programs.  A failing case prints a runnable
repro: the program as symdiff source with its input values.

    python tests/random_graphs.py --count 2000 --seed 0 [--ops old|full] [--batch 8]

prints the counts by outcome and the first repros.  The op set ``old`` is the
subset the previous engine supports (for before/after comparisons).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from oracles import central_differences

INPUT_SHAPES = {"A": (4, 3), "B": (3, 4), "v": (3,), "u": (4,), "s": ()}
SHARED_SHAPES = {"W": (4, 3), "b": (3,), "M": (3, 3), "p": (3,), "q": (3,), "c": ()}
MAX_SIZE = 64  # largest intermediate (elements): keeps finite differences cheap
MAX_ABS = 1e3  # largest intermediate magnitude
MARGIN = 1e-3  # distance kept from kinks and domain edges
FD_EPS = 1e-6
BATCHES_PER_PROCESS = 25  # a fresh worker process then (compiled kernels accumulate in memory)


# --------------------------------------------------------------------------- NumPy reference


class NumpyOps:
    """The ``sd.NAME`` functions the programs use, in plain NumPy (the reference)."""

    def __init__(self, grads=None):
        self._grads = grads

    for _name in ("exp log log1p expm1 sqrt square abs sin cos tan tanh sinh cosh arcsin arccos arctan arcsinh "
                  "arctanh log2 log10 sign floor ceil maximum minimum where clip dot matmul outer transpose reshape "
                  "concatenate stack expand_dims broadcast_to take arange sum mean max min prod var std argmax argmin").split():
        locals()[_name] = staticmethod(getattr(np, _name))
    del _name

    @staticmethod
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    @staticmethod
    def softplus(x):
        return np.logaddexp(0, x)

    @staticmethod
    def relu(x):
        return np.maximum(x, 0)

    @staticmethod
    def logsumexp(x, axis=None, keepdims=False):
        m = np.max(x, axis=axis, keepdims=True)
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def softmax(x, axis=-1):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    @classmethod
    def log_softmax(cls, x, axis=-1):
        return x - cls.logsumexp(x, axis=axis, keepdims=True)

    @staticmethod
    def onehot(labels, k, dtype="float64"):
        return (np.asarray(labels)[..., None] == np.arange(k)).astype(dtype)

    def grad(self, cost, wrt, disconnected="raise"):
        return self._grads


def numpy_run(body: str, env: dict, grads=None) -> dict:
    """Execute a program body with NumPy arrays; return its namespace."""
    ns = {"sd": NumpyOps(grads), "np": np, **{k: (np.asarray(v) if np.ndim(v) == 0 else v) for k, v in env.items()}}
    with np.errstate(all="ignore"):
        exec(body, ns)
    return ns


# --------------------------------------------------------------------------- programs


@dataclass
class Case:
    """One random program, with everything needed to check it and to print it."""

    ident: str
    ops: str
    dtype: str
    shapes: dict  # input name -> declared static shape (ints or None)
    inputs: dict  # input name -> value (the declared dtype)
    shared: dict  # shared name -> initial value
    body: list  # statements; define ``cost`` and ``outputs``
    wrt: list  # names differentiated
    updates: list = field(default_factory=list)  # (shared name, expression)
    config: dict = field(default_factory=dict)  # sd.config settings for the compiled function

    @property
    def input_names(self) -> list:
        return [n for n in INPUT_SHAPES if n in self.inputs]

    def source(self) -> str:
        """A runnable symdiff script reproducing this case."""
        lines = ["import numpy as np", "import symdiff as sd", ""]
        lines += [f"sd.config.{k} = {v!r}" for k, v in self.config.items()]
        for n in self.input_names:
            lines.append(f"{n} = sd.tensor({n!r}, {tuple(self.shapes[n])!r}, dtype={self.dtype!r})")
        for n, val in self.shared.items():
            lines.append(f"{n} = sd.shared({_array_text(val)}, name={n!r})")
        lines += self.body
        lines.append(f"grads = sd.grad(cost, [{', '.join(self.wrt)}], disconnected='ignore')")
        ups = ", ".join(f"({n}, {e})" for n, e in self.updates)
        lines.append(f"f = sd.function([{', '.join(self.input_names)}], [cost] + outputs + grads"
                     + (f", updates=[{ups}])" if self.updates else ")"))
        args = ", ".join(_array_text(self.inputs[n]) for n in self.input_names)
        lines.append(f"print(f({args}))")
        return "\n".join(lines)


def case_to_json(case: Case) -> dict:
    arrays = lambda d: {n: {"dtype": np.asarray(v).dtype.name, "data": np.asarray(v).tolist()} for n, v in d.items()}
    return {**case.__dict__, "inputs": arrays(case.inputs), "shared": arrays(case.shared),
            "shapes": {n: list(s) for n, s in case.shapes.items()}}


def case_from_json(data: dict) -> Case:
    arrays = lambda d: {n: np.array(v["data"], dtype=v["dtype"]) for n, v in d.items()}
    return Case(**{**data, "inputs": arrays(data["inputs"]), "shared": arrays(data["shared"]),
                   "shapes": {n: tuple(s) for n, s in data["shapes"].items()},
                   "updates": [tuple(u) for u in data["updates"]]})


def _array_text(a: np.ndarray) -> str:
    a = np.asarray(a)
    text = np.array2string(a, separator=", ", max_line_width=10_000, threshold=10_000, floatmode="unique")
    return f"np.array({text}" + (", dtype=np.float32)" if a.dtype == np.float32 else ")")


# --------------------------------------------------------------------------- the generator


@dataclass
class Val:
    """A named value of the program being built (an input or a temporary ``tK``)."""

    name: str
    value: np.ndarray

    @property
    def shape(self):
        return self.value.shape

    @property
    def ndim(self):
        return self.value.ndim

    @property
    def size(self):
        return self.value.size


class Builder:
    """Builds one program statement by statement, evaluating each with NumPy as it goes."""

    def __init__(self, rng: np.random.Generator, ops: str, env: dict):
        self.rng = rng
        self.ops = ops
        self.pool = [Val(n, np.asarray(v, dtype=np.float64)) for n, v in env.items()]
        self.env = {n: v.value for n, v in zip(env, self.pool)}
        self.body: list = []
        self.used: set = set()
        self.temps = 0

    # -- choosing operands ------------------------------------------------------
    def pick(self, pred=lambda v: True) -> "Val | None":
        cands = [v for v in self.pool if pred(v)]
        if not cands:
            return None
        weights = np.array([1.0 if v.name[0] != "t" else 2.0 + int(v.name[1:]) / 2 for v in cands])  # recent first
        return cands[self.rng.choice(len(cands), p=weights / weights.sum())]

    def number(self, lo=-2.0, hi=2.0) -> float:
        return float(np.round(self.rng.uniform(lo, hi), 2)) or 0.5

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def choice(self, seq):
        return seq[self.rng.integers(len(seq))]

    # -- statements -------------------------------------------------------------
    def evaluate(self, expr: str):
        with np.errstate(all="ignore"):
            return eval(expr, {"sd": NumpyOps(), "np": np, **self.env})

    def add(self, expr: str) -> "Val | None":
        """Add ``tK = expr`` if its value is a valid float intermediate."""
        try:
            value = np.asarray(self.evaluate(expr))
        except Exception:
            return None
        if value.dtype.kind != "f" or not 0 < value.size <= MAX_SIZE or value.ndim > 3:
            return None
        if not np.all(np.isfinite(value)) or np.max(np.abs(value)) > MAX_ABS:
            return None
        self.temps += 1
        name = f"t{self.temps}"
        self.body.append(f"{name} = {expr}")
        self.env[name] = value
        for v in self.pool:
            if _mentions(expr, v.name):
                self.used.add(v.name)
        val = Val(name, value)
        self.pool.append(val)
        return val


def _mentions(expr: str, name: str) -> bool:
    """Whether ``expr`` reads the variable ``name``."""
    return re.search(rf"(?<![\w.]){name}(?!\w)", expr) is not None


def _broadcastable(*shapes) -> "tuple | None":
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        return None


def _gap_ok(values: np.ndarray, axis) -> bool:
    """The largest and the smallest entry along ``axis`` are each unique by MARGIN."""
    v = np.asarray(values)
    if axis is None:
        v = v.reshape(1, -1)
        axis = (1,)
    axes = tuple(a % v.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    rest = [a for a in range(v.ndim) if a not in axes]
    flat = np.transpose(v, rest + list(axes)).reshape(int(np.prod([v.shape[a] for a in rest], dtype=int)), -1)
    if flat.shape[1] < 2:
        return True
    srt = np.sort(flat, axis=1)
    return bool(np.all(srt[:, -1] - srt[:, -2] > MARGIN) and np.all(srt[:, 1] - srt[:, 0] > MARGIN))


def _away(values: np.ndarray, *points) -> bool:
    return all(np.all(np.abs(np.asarray(values) - p) > MARGIN) for p in points)


# Each op takes the builder and returns an expression (over pool names) or None.

def op_unary(b: Builder):
    x = b.pick()
    table = [("sd.exp({})", lambda v: v.max() < 4), ("sd.expm1({})", lambda v: v.max() < 4),
             ("sd.sin({})", None), ("sd.cos({})", None), ("sd.tanh({})", None), ("sd.sigmoid({})", None),
             ("sd.softplus({})", None), ("sd.arctan({})", None), ("sd.square({})", None),
             ("sd.sinh({})", lambda v: np.abs(v).max() < 4), ("sd.cosh({})", lambda v: np.abs(v).max() < 4),
             ("-{}", None), ("{} ** 2", None), ("{} ** 3", lambda v: np.abs(v).max() < 8),
             ("sd.abs({})", lambda v: _away(v, 0)),
             ("sd.relu({})", lambda v: _away(v, 0)),
             ("sd.log({})", lambda v: v.min() > 0.05), ("sd.log1p({})", lambda v: v.min() > -0.9),
             ("sd.sqrt({})", lambda v: v.min() > 0.05), ("{} ** 0.5", lambda v: v.min() > 0.05),
             ("{} ** -1", lambda v: np.abs(v).min() > 0.1), ("{} ** 1.5", lambda v: v.min() > 0.05),
             ("sd.arcsin({})", lambda v: np.abs(v).max() < 0.95), ("sd.tan({})", lambda v: np.abs(v).max() < 1.2),
             ("sd.log({} ** 2 + 0.5)", None), ("sd.sqrt({} ** 2 + 0.1)", None), ("1.5 ** {}", lambda v: v.max() < 8)]
    if b.ops == "full":
        table += [("abs({})", lambda v: _away(v, 0)), ("sd.log2({})", lambda v: v.min() > 0.05),
                  ("sd.log10({})", lambda v: v.min() > 0.05),
                  ("sd.arccos({})", lambda v: np.abs(v).max() < 0.95), ("sd.arcsinh({})", None),
                  ("sd.arctanh({})", lambda v: np.abs(v).max() < 0.9),
                  ("sd.sign({}) * {}", lambda v: _away(v, 0)),
                  ("sd.floor({}) + {}", lambda v: _away(v - np.round(v), 0)),
                  ("sd.ceil({}) * {}", lambda v: _away(v - np.round(v), 0))]
    form, ok = table[b.rng.integers(len(table))]
    if ok is not None and not ok(x.value):
        x = b.pick(lambda v: ok(v.value))
        if x is None:
            return None
    return form.replace("{}", x.name)


def op_stable_form(b: Builder):
    """Patterns the engine rewrites to stable forms before lowering."""
    x = b.pick()
    forms = ["sd.log(sd.sigmoid({x}))", "sd.log(1 - sd.sigmoid({x}))", "sd.log(1 + sd.exp({x}))"]
    if x.ndim:
        axis = int(b.rng.integers(-x.ndim, x.ndim))
        forms.append(f"sd.log(sd.sum(sd.exp({{x}}), axis={axis}))")
    return b.choice(forms).format(x=x.name)


def op_binary(b: Builder):
    x = b.pick()
    if b.chance(0.25):  # with a Python number
        k = b.number()
        kinds = [f"{x.name} + {k}", f"{k} - {x.name}", f"{x.name} * {k}", f"{k} * {x.name}", f"{x.name} / {abs(k) + 0.5}"]
        if np.abs(x.value).min() > 0.1:
            kinds.append(f"{k} / {x.name}")
        return b.choice(kinds)
    y = b.pick(lambda v: (s := _broadcastable(x.shape, v.shape)) is not None and int(np.prod(s)) <= MAX_SIZE)
    op = b.choice(["+", "-", "*", "/", "max", "min", "pow"])
    if op == "/":
        if np.abs(y.value).min() <= 0.1:
            return None
        return f"{x.name} / {y.name}"
    if op in ("max", "min"):
        if not _away(x.value - y.value, 0):
            return None
        return f"sd.{'maximum' if op == 'max' else 'minimum'}({x.name}, {y.name})"
    if op == "pow":
        if x.value.min() <= 0.1 or np.abs(y.value).max() > 3:
            return None
        return f"{x.name} ** {y.name}"
    return f"{x.name} {op} {y.name}"


def op_where(b: Builder):
    a = b.pick()
    c = b.pick(lambda v: _broadcastable(a.shape, v.shape) is not None)
    shape = _broadcastable(a.shape, c.shape)
    x = b.pick(lambda v: (s := _broadcastable(shape, v.shape)) is not None and int(np.prod(s)) <= MAX_SIZE)
    if x is None:
        return None
    y = b.pick(lambda v: (s := _broadcastable(shape, x.shape, v.shape)) is not None and int(np.prod(s)) <= MAX_SIZE)
    if y is None:
        return None
    if b.chance(0.3):
        k = b.number()
        if not _away(a.value, k):
            return None
        cond = f"{a.name} {b.choice(['<', '>', '<=', '>='])} {k}"
    else:
        if not _away(a.value - c.value, 0):
            return None
        cond = f"{a.name} {b.choice(['<', '>', '<=', '>='])} {c.name}"
    if b.ops == "full" and b.chance(0.3):
        form = b.choice(["({c}) & ({a} < 0.5)", "~({c})", "({c}) | ({a} > 1.0)"])
        if not _away(a.value, 0.5, 1.0):
            return None
        cond = form.format(c=cond, a=a.name)
    return f"sd.where({cond}, {x.name}, {y.name})"


def op_clip(b: Builder):
    x = b.pick()
    lo = b.number(-1.5, 0.5)
    hi = lo + b.number(0.3, 2.0)
    if not _away(x.value, lo, hi):
        return None
    return b.choice([f"sd.clip({x.name}, {lo}, {hi})", f"{x.name}.clip({lo}, {hi})" if b.ops == "full" else
                     f"sd.clip({x.name}, {lo}, {hi})"])


def _axis(b: Builder, ndim: int, allow_none=True, allow_tuple=True):
    opts = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple and ndim >= 2 else [])
    kind = b.choice(opts)
    if kind == "none":
        return None
    if kind == "int":
        return int(b.rng.integers(-ndim, ndim))
    axes = sorted(b.rng.choice(ndim, size=2, replace=False).tolist())
    return tuple(int(a) for a in axes)


def op_reduce(b: Builder):
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    kinds = ["sum", "mean", "max", "min", "prod"] + (["var", "std"] if b.ops == "full" else [])
    kind = b.choice(kinds)
    axis = _axis(b, x.ndim)
    keep = b.chance(0.4)
    if kind in ("max", "min") and not _gap_ok(x.value, axis):
        return None
    extra = ""
    if kind in ("var", "std"):
        n = x.size if axis is None else int(np.prod([x.shape[a] for a in (axis if isinstance(axis, tuple) else (axis,))]))
        ddof = int(b.rng.integers(0, 2))
        if n - ddof < 1:
            return None
        if kind == "std" and np.min(np.var(x.value, axis=axis, ddof=ddof)) < 1e-2:
            return None
        extra = f", ddof={ddof}" if ddof else ""
    args = (f"axis={axis!r}" if axis is not None or b.chance(0.5) else "") + extra + (", keepdims=True" if keep else "")
    args = args.lstrip(", ")
    if b.chance(0.5):
        return f"{x.name}.{kind}({args})"
    return f"sd.{kind}({x.name}{', ' + args if args else ''})"


def op_softmax(b: Builder):
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    kind = b.choice(["softmax", "log_softmax", "logsumexp"])
    if kind == "logsumexp":
        axis = _axis(b, x.ndim)
        keep = ", keepdims=True" if b.chance(0.4) else ""
        return f"sd.logsumexp({x.name}{'' if axis is None else f', axis={axis!r}'}{keep})"
    axis = int(b.rng.integers(-x.ndim, x.ndim))
    return f"sd.{kind}({x.name}, axis={axis})" if b.chance(0.8) else f"sd.{kind}({x.name})"


def op_matmul(b: Builder):
    full = b.ops == "full"
    x = b.pick(lambda v: 1 <= v.ndim <= (3 if full else 2))
    if x is None:
        return None

    def fits(v):
        if not 1 <= v.ndim <= (3 if full else 2) or v.name == x.name and not full:
            return False
        k = x.shape[-1]
        if v.ndim == 1:
            return v.shape[0] == k
        if v.shape[-2] != k:
            return False
        if x.ndim >= 2 and v.ndim >= 2:
            batch = _broadcastable(x.shape[:-2], v.shape[:-2])
            return batch is not None and int(np.prod(batch + (x.shape[-2], v.shape[-1]))) <= MAX_SIZE
        return True
    y = b.pick(fits)
    if y is None:
        return None
    if x.ndim <= 2 and y.ndim <= 2:
        return b.choice([f"{x.name} @ {y.name}", f"sd.dot({x.name}, {y.name})", f"sd.matmul({x.name}, {y.name})",
                         f"{x.name}.dot({y.name})"])
    return f"{x.name} @ {y.name}"


def op_outer(b: Builder):
    x = b.pick(lambda v: v.ndim == 1)
    y = b.pick(lambda v: v.ndim == 1 and v.size * (x.size if x else 99) <= MAX_SIZE)
    if x is None or y is None:
        return None
    return f"sd.outer({x.name}, {y.name})"


def op_transpose(b: Builder):
    x = b.pick(lambda v: v.ndim >= 2)
    if x is None:
        return None
    if x.ndim == 2:
        return b.choice([f"{x.name}.T", f"sd.transpose({x.name})", f"{x.name}.transpose(1, 0)"])
    perm = tuple(int(a) for a in b.rng.permutation(x.ndim))
    return b.choice([f"sd.transpose({x.name}, {perm})", f"{x.name}.T", f"{x.name}.transpose{perm}"])


def op_reshape(b: Builder):
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    n = x.size
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    ndim = int(b.rng.integers(1, 4))
    shape = []
    rest = n
    for _ in range(ndim - 1):
        d = b.choice([d for d in divisors if rest % d == 0])
        shape.append(int(d))
        rest //= d
    shape.append(rest)
    shape = [int(s) for s in b.rng.permutation(shape)]
    if b.chance(0.4):
        shape[int(b.rng.integers(len(shape)))] = -1
    shape = tuple(shape)
    return b.choice([f"sd.reshape({x.name}, {shape})", f"{x.name}.reshape{shape if len(shape) > 1 else '(' + str(shape[0]) + ')'}"])


def op_index(b: Builder):
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    parts = []
    for n in x.shape:
        kind = b.choice(["int", "slice", "slice", "all"])
        if kind == "int":
            parts.append(str(int(b.rng.integers(-n, n))))
        elif kind == "all":
            parts.append(":")
        else:
            step = b.choice([1, 1, 2, -1, -2])
            start = b.choice([None, int(b.rng.integers(-n, n))])
            stop = b.choice([None, int(b.rng.integers(-n, n + 1))])
            text = ("" if start is None else str(start)) + ":" + ("" if stop is None else str(stop))
            parts.append(text + ("" if step == 1 else f":{step}"))
    while parts and parts[-1] == ":" and b.chance(0.7):
        parts.pop()
    if b.ops == "full" and b.chance(0.3):
        pos = int(b.rng.integers(0, len(parts) + 1))
        parts.insert(pos, b.choice(["None", "..."]) if "..." not in parts else "None")
    if not parts:
        parts = [":"]
    return f"{x.name}[{', '.join(parts)}]"


def op_join(b: Builder):
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    if b.chance(0.5):  # concatenate
        axis = int(b.rng.integers(-x.ndim, x.ndim))
        ax = axis % x.ndim
        others = [v for v in b.pool if v.ndim == x.ndim
                  and all(v.shape[k] == x.shape[k] for k in range(x.ndim) if k != ax)]
        parts = [x] + [b.choice(others) for _ in range(int(b.rng.integers(1, 3)))]
        if sum(p.size for p in parts) > MAX_SIZE:
            return None
        names = ", ".join(p.name for p in parts)
        return f"sd.concatenate([{names}], axis={axis})" if axis or b.chance(0.5) else f"sd.concatenate([{names}])"
    axis = int(b.rng.integers(-(x.ndim + 1), x.ndim + 1))
    same = [v for v in b.pool if v.shape == x.shape]
    parts = [x] + [b.choice(same) for _ in range(int(b.rng.integers(1, 3)))]
    if len(parts) * x.size > MAX_SIZE or x.ndim >= 3:
        return None
    return f"sd.stack([{', '.join(p.name for p in parts)}], axis={axis})"


def op_newaxis(b: Builder):
    """Full set only: expand_dims, broadcast_to, x[None], x[..., k]."""
    x = b.pick()
    kind = b.choice(["expand_dims", "broadcast_to", "none", "ellipsis"])
    if kind == "expand_dims" and x.ndim < 3:
        return f"sd.expand_dims({x.name}, {int(b.rng.integers(-(x.ndim + 1), x.ndim + 1))})"
    if kind == "broadcast_to":
        shape = list(x.shape)
        shape = [int(b.choice([2, 3, 4])) if n == 1 else n for n in shape]
        if x.ndim < 3 and b.chance(0.6):
            shape = [int(b.choice([2, 3]))] + shape
        if int(np.prod(shape)) > MAX_SIZE:
            return None
        return f"sd.broadcast_to({x.name}, {tuple(shape)})"
    if kind == "none" and x.ndim < 3:
        return b.choice([f"{x.name}[None]", f"{x.name}[:, None]" if x.ndim else f"{x.name}[None]",
                         f"{x.name}[..., None]"])
    if kind == "ellipsis" and x.ndim >= 1:
        return f"{x.name}[..., {int(b.rng.integers(-x.shape[-1], x.shape[-1]))}]"
    return None


def op_gather(b: Builder):
    """Full set only: integer indices (lists, argmax/argmin, arange, onehot, take)."""
    kind = b.choice(["list", "list_axis1", "argmax_take", "arange_argmax", "onehot", "arange_mul", "argmax_eq"])
    if kind in ("list", "list_axis1"):
        x = b.pick(lambda v: v.ndim >= (1 if kind == "list" else 2))
        if x is None:
            return None
        ax = 0 if kind == "list" else 1
        n = x.shape[ax]
        idx = [int(i) for i in b.rng.integers(-n, n, size=int(b.rng.integers(1, 5)))]
        if b.chance(0.3):
            return f"{x.name}[{'' if ax == 0 else ':, '}np.array({idx})]"
        return f"{x.name}[{'' if ax == 0 else ':, '}{idx}]"
    y = b.pick(lambda v: v.ndim >= 1)
    if y is None:
        return None
    arg = b.choice(["argmax", "argmin"])
    if kind == "argmax_take":  # x[argmax(y, axis)] / sd.take
        axis = b.choice([None, int(b.rng.integers(0, y.ndim))])
        if not _gap_ok(y.value, axis):
            return None
        idx = np.asarray(getattr(np, arg)(y.value, axis=axis))
        x = b.pick(lambda v: v.ndim >= 1 and v.shape[0] > idx.max())
        if x is None:
            return None
        call = f"sd.{arg}({y.name}{'' if axis is None else f', axis={axis}'})"
        return b.choice([f"{x.name}[{call}]", f"sd.take({x.name}, {call}, axis=0)"])
    if kind == "argmax_eq":  # a comparison of integers selecting values
        if not _gap_ok(y.value, -1):
            return None
        idx = np.asarray(getattr(np, arg)(y.value, axis=-1))
        x = b.pick(lambda v: (s := _broadcastable(idx.shape, v.shape)) is not None and int(np.prod(s)) <= MAX_SIZE)
        if x is None:
            return None
        k = int(b.rng.integers(0, y.shape[-1]))
        op = b.choice(["==", "!="])
        return f"sd.where(sd.{arg}({y.name}, axis=-1) {op} {k}, {x.name}, -{x.name})"
    if y.ndim != 2:
        return None
    if not _gap_ok(y.value, 1):
        return None
    n = y.shape[0]
    size = f"{y.name}.shape[0]" if y.name in INPUT_SHAPES and b.chance(0.5) else str(n)
    if kind == "arange_argmax":
        x = b.pick(lambda v: v.ndim == 2 and v.shape[0] == n and v.shape[1] >= y.shape[1])
        if x is None:
            return None
        return f"{x.name}[sd.arange({size}), sd.{arg}({y.name}, axis=1)]"
    if kind == "onehot":
        k = y.shape[1] + int(b.rng.integers(0, 2))
        x = b.pick(lambda v: _broadcastable(v.shape, (n, k)) is not None)
        if x is None:
            return None
        return f"sd.onehot(sd.{arg}({y.name}, axis=1), {k}) * {x.name}"
    x = b.pick(lambda v: v.ndim >= 1 and v.shape[-1] == n)  # arange_mul
    if x is None:
        return None
    return f"sd.arange({size}) * {x.name}"


# name, function, op sets
OPS = [
    ("unary", op_unary, 6, ("old", "full")), ("stable", op_stable_form, 1, ("old", "full")),
    ("binary", op_binary, 6, ("old", "full")), ("where", op_where, 1.5, ("old", "full")),
    ("clip", op_clip, 0.7, ("old", "full")), ("reduce", op_reduce, 3, ("old", "full")),
    ("softmax", op_softmax, 1.5, ("old", "full")), ("matmul", op_matmul, 2, ("old", "full")),
    ("outer", op_outer, 0.7, ("old", "full")), ("transpose", op_transpose, 1, ("old", "full")),
    ("reshape", op_reshape, 1, ("old", "full")), ("index", op_index, 2, ("old", "full")),
    ("join", op_join, 1, ("old", "full")), ("newaxis", op_newaxis, 1, ("full",)),
    ("gather", op_gather, 1.5, ("full",)),
]


def _cost_term(b: Builder, t: Val) -> str:
    """A scalar term of the cost made from ``t`` (non-linear mostly, so every gradient entry matters)."""
    forms = ["sd.sum(sd.sin({t}))", "sd.mean({t} ** 2)", "sd.sum({t} * {t}) * 0.5", "sd.sum(sd.cos({t}) * 1.5)",
             "{t}.sum()", "sd.sum(sd.tanh({t}))"]
    if t.ndim == 0:
        forms += ["{t} * 1.5", "sd.sin({t})"]
    return b.choice(forms).format(t=t.name)


def _build_body(b: Builder, n_ops: int) -> None:
    """Add ``n_ops`` statements, each from an op of the builder's op set picked by weight."""
    enabled = [(f, w) for _, f, w, sets in OPS if b.ops in sets]
    weights = np.array([w for _, w in enabled])
    attempts = 0
    while b.temps < n_ops and attempts < 40 * n_ops:
        attempts += 1
        fn = enabled[b.rng.choice(len(enabled), p=weights / weights.sum())][0]
        expr = fn(b)
        if expr is not None:
            b.add(expr)


def _finish(b: Builder) -> list:
    """``outputs`` and ``cost`` from the temporaries nothing else uses (the last one always)."""
    temps = [v for v in b.pool if v.name[0] == "t"]
    if not temps:
        temps = [b.add("sd.sin(A)")]
    sinks = [v for v in temps[:-1] if v.name not in b.used]
    chosen = [temps[-1]] + [sinks[k] for k in b.rng.permutation(len(sinks))[:2]]
    b.body.append(f"outputs = [{', '.join(v.name for v in chosen)}]")
    b.body.append("cost = " + " + ".join(_cost_term(b, v) for v in chosen))
    for v in chosen:
        b.used.add(v.name)
    return chosen


def make_inputs(rng: np.random.Generator, dtype: str, mode: str) -> tuple:
    """Input values (three decimals, so repros print exactly) and declared shapes: static,
    run-time (``None``) or a mix."""
    values, shapes = {}, {}
    for name, shape in INPUT_SHAPES.items():
        values[name] = np.round(rng.uniform(-1.5, 1.5, size=shape), 3).astype(dtype)
        static = mode == "static" or (mode == "mixed" and rng.random() < 0.5)
        shapes[name] = tuple(shape) if static else (None,) * len(shape)
    return values, shapes


def make_case(rng: np.random.Generator, ident: str, ops: str, dtype: str, shapes: dict, inputs: dict,
              with_updates: bool) -> Case:
    """One random program over ``inputs`` (and shared variables if ``with_updates``)."""
    shared = {}
    if with_updates:
        for name in rng.permutation(list(SHARED_SHAPES))[: int(rng.integers(1, 4))]:
            name = str(name)
            shared[name] = np.round(rng.uniform(-1.5, 1.5, size=SHARED_SHAPES[name]), 3).astype(dtype)
    env = {n: np.asarray(v, dtype=np.float64) for n, v in {**inputs, **shared}.items()}
    b = Builder(rng, ops, env)
    _build_body(b, int(rng.integers(2, 7)))
    _finish(b)
    names = list(inputs) + list(shared)
    wrt = [n for n in names if any(_mentions(line, n) for line in b.body)]
    case = Case(ident, ops, dtype, {}, {}, dict(shared), b.body, wrt)
    if with_updates:
        case.updates = _make_updates(b, case)
        if rng.random() < 0.5:  # an updated variable as an output gives its value before the call
            k = next(i for i, line in enumerate(b.body) if line.startswith("outputs = ["))
            b.body[k] = b.body[k][:-1] + f", {case.updates[0][0]}]"
    text = b.body + [e for _, e in case.updates]
    used = [n for n in inputs if any(_mentions(line, n) for line in text)]
    case.shapes = {n: shapes[n] for n in used}
    case.inputs = {n: inputs[n] for n in used}
    return case


def _make_updates(b: Builder, case: Case) -> list:
    """Simultaneous updates of the shared variables, including views of each other."""
    updates = []
    grads_of = {n: k for k, n in enumerate(case.wrt)}
    for name, val in case.shared.items():
        shape = val.shape
        forms = []
        same = [n for n, v in case.shared.items() if v.shape == shape and n != name]
        if shape == (3, 3):
            forms += [f"{name}.T", f"({name} + {name}.T) / 2", f"{name}[::-1] * 10", f"{name}.T @ {name} * 0.1"]
        if len(shape) == 1:
            forms += [f"{name}[::-1] * 10", f"sd.concatenate([{name}[1:], {name}[:1]])"]
        if len(shape) == 2:
            forms += [f"{name}[::-1, ::-1]"]
        forms += [f"{n} * 2" for n in same]
        if name in grads_of:
            forms += [f"{name} - 0.1 * grads[{grads_of[name]}]"] * 2
        fits = [v for v in b.pool if _broadcastable(v.shape, shape) == shape]
        if fits:
            e = b.choice(fits).name
            forms += [f"{name} - 0.1 * {e}", f"{name} * 0.9 + {e}"]
        same_shape = [v for v in b.pool if v.shape == shape and v.name != name]
        if same_shape:
            forms.append(b.choice(same_shape).name)
        if name == "c":
            forms.append("c + sd.sum(outputs[0])")
        updates.append((name, b.choice(forms)))
    return updates


def generate(seed: int, index: int, ops: str, batch: int) -> list:
    """Batch ``index`` of the run ``seed``: ``batch`` cases sharing input values, dtype and shape mode."""
    rng = np.random.default_rng([seed, index])
    dtype = "float32" if rng.random() < 0.2 else "float64"
    mode = str(rng.choice(["static", "dynamic", "mixed"]))
    inputs, shapes = make_inputs(rng, dtype, mode)
    config = {"parallel_threshold": 1 if rng.random() < 0.1 else 0}  # 1: every loop takes the prange path
    if rng.random() < 0.1:
        config["fast_math"] = False
    cases = []
    for k in range(batch):
        with_updates = rng.random() < 0.15
        case = make_case(rng, f"{seed}:{index}:{k}", ops, dtype, shapes, inputs, with_updates)
        case.config = config
        cases.append(case)
    return cases


# --------------------------------------------------------------------------- expectations


@dataclass
class Expected:
    outputs: list  # [cost] + outputs, float64
    dtypes: list  # dtypes NumPy gives with the declared input dtype
    grads: list  # finite differences, float64
    new_shared: dict  # shared name -> value after the call

    @property
    def finite(self) -> bool:
        arrays = self.outputs + self.grads + list(self.new_shared.values())
        return all(np.all(np.isfinite(a)) for a in arrays)


def expect(case: Case, shared_now: dict) -> Expected:
    """What one call should return and leave behind, from NumPy alone."""
    env64 = {n: np.asarray(v, dtype=np.float64) for n, v in {**case.inputs, **shared_now}.items()}
    body = "\n".join(case.body)

    def cost_of(*arrays):
        ns = numpy_run(body, {**env64, **dict(zip(case.wrt, arrays))})
        return float(ns["cost"])

    grads = [central_differences(cost_of, [env64[n] for n in case.wrt], k, FD_EPS) for k in range(len(case.wrt))]
    ns = numpy_run(body, env64, grads)
    ns["grads"] = grads
    outputs = [np.asarray(ns["cost"])] + [np.asarray(o) for o in ns["outputs"]]
    typed = numpy_run(body, {**case.inputs, **{n: np.asarray(v, dtype=case.dtype) for n, v in shared_now.items()}},
                      grads)
    dtypes = [np.asarray(typed["cost"]).dtype] + [np.asarray(o).dtype for o in typed["outputs"]]
    new_shared = {}
    with np.errstate(all="ignore"):
        for name, expr in case.updates:
            new_shared[name] = np.asarray(eval(expr, ns), dtype=np.float64)
    return Expected(outputs, dtypes, grads, new_shared)


# --------------------------------------------------------------------------- running against symdiff


class Failure(Exception):
    """A case's outcome other than ok: ``kind`` is its class, ``detail`` what differed."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


class Timeout(Exception):
    pass


def _alarm(seconds: int):
    def handler(signum, frame):
        raise Timeout(f"no answer in {seconds} s")

    signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)


# Errors the README documents for programs NumPy runs: a size that is 1 only at run time
# does not broadcast (PyTensor's rule).  Such an outcome passes.
DOCUMENTED = {"never broadcast": "documented: a run-time size of 1 does not broadcast"}


def _exception_kind(stage: str, exc: BaseException) -> str:
    for text, kind in DOCUMENTED.items():
        if text in str(exc):
            return kind
    return f"error:{stage}:{type(exc).__name__}"


def passed(kind: str) -> bool:
    """Whether an outcome is a pass: the right numbers, or a documented error."""
    return kind == "ok" or kind.startswith("documented:")


def _short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 600 else text[:600] + " ..."


@dataclass
class Built:
    case: Case
    ns: dict
    cost: object
    outputs: list
    grads: list
    updates: list
    shared: dict  # name -> SharedVariable


def build(sd, case: Case, tensors: dict) -> Built:
    """Run the case's source with symdiff on the batch's input tensors (and its own shared variables)."""
    stage = "build"
    try:
        ns = {"sd": sd, "np": np, **{n: tensors[n] for n in case.inputs}}
        shared = {n: sd.shared(np.array(v), name=n) for n, v in case.shared.items()}
        ns.update(shared)
        exec("\n".join(case.body), ns)
        stage = "grad"
        grads = sd.grad(ns["cost"], [ns[n] for n in case.wrt], disconnected="ignore")
        ns["grads"] = grads
        stage = "build"
        updates = [(shared[n], eval(e, ns)) for n, e in case.updates]
    except Exception as exc:
        raise Failure(_exception_kind(stage, exc), _short_error(exc)) from exc
    return Built(case, ns, ns["cost"], [ns["cost"]] + list(ns["outputs"]), list(grads), updates, shared)


def _compare(what: str, got, want, rtol: float, kind: str) -> None:
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise Failure("wrong shape", f"{what}: shape {got.shape}, expected {want.shape}")
    if want.size == 0:
        return
    got64 = got.astype(np.float64)
    if not np.all(np.isfinite(got64)):
        raise Failure(kind, f"{what}: non-finite values {got64.ravel()[:6]} where NumPy gives {want.ravel()[:6]}")
    err = float(np.max(np.abs(got64 - want)))
    scale = max(1.0, float(np.max(np.abs(want))))
    if err > rtol * scale:
        raise Failure(kind, f"{what}: max error {err:.3g} (scale {scale:.3g})\n  got      {np.array2string(got64, precision=6)}"
                            f"\n  expected {np.array2string(want, precision=6)}")


def _tolerances(dtype: str) -> dict:
    if dtype == "float32":
        return {"value": 2e-3, "fd": 2e-2, "backprop": 1e-2}
    return {"value": 1e-7, "fd": 2e-5, "backprop": 1e-7}


def check_call(built: Built, expected: Expected, results: list, offset: int, round_: int, shared: dict) -> None:
    """Compare one case's slice of a call's results, and the shared values the call left
    (``shared``: name -> array), with NumPy."""
    case = built.case
    tol = _tolerances(case.dtype)
    n_out = len(built.outputs)
    outs = results[offset: offset + n_out]
    grads = results[offset + n_out: offset + n_out + len(case.wrt)]
    tag = f"call {round_}: "
    for k, (got, want, dt) in enumerate(zip(outs, expected.outputs, expected.dtypes)):
        what = tag + ("cost" if k == 0 else f"outputs[{k - 1}]")
        _compare(what, got, want, tol["value"], "wrong value")
        if np.asarray(got).dtype != dt:
            raise Failure("wrong dtype", f"{what}: dtype {np.asarray(got).dtype}, NumPy gives {dt}")
    for name, got, fd in zip(case.wrt, grads, expected.grads):
        if np.asarray(got).dtype != np.dtype(case.dtype):
            raise Failure("wrong dtype", f"{tag}grad {name}: dtype {np.asarray(got).dtype}, expected {case.dtype}")
        scale = max(1.0, float(np.max(np.abs(fd))), abs(float(expected.outputs[0])) * 1e-4)
        _compare(f"{tag}grad {name} vs finite differences", np.asarray(got, dtype=np.float64) / scale, fd / scale,
                 tol["fd"], "wrong grad")
    for name, want in expected.new_shared.items():
        _compare(f"{tag}shared {name} after the call", shared[name], want, tol["value"], "wrong update")


def check_backprop(sd, built: Built, expected: Expected) -> list:
    """``sd.backprop`` of the case at its values; a failure here is the checker's, classed apart."""
    case = built.case
    values = {built.ns[n]: case.inputs[n] for n in case.inputs}
    try:
        got = sd.backprop(built.cost, [built.ns[n] for n in case.wrt], values)
    except Exception as exc:
        raise Failure(_exception_kind("backprop", exc), _short_error(exc)) from exc
    tol = _tolerances(case.dtype)
    for name, g, fd in zip(case.wrt, got, expected.grads):
        scale = max(1.0, float(np.max(np.abs(fd))), abs(float(expected.outputs[0])) * 1e-4)
        _compare(f"backprop grad {name} vs finite differences", np.asarray(g, dtype=np.float64) / scale, fd / scale,
                 tol["fd"], "backprop wrong")
    return got


def _compare_to_backprop(built: Built, results: list, offset: int, bp: list) -> None:
    case = built.case
    n_out = len(built.outputs)
    grads = results[offset + n_out: offset + n_out + len(case.wrt)]
    for name, got, want in zip(case.wrt, grads, bp):
        want = np.asarray(want, dtype=np.float64)
        scale = max(1.0, float(np.max(np.abs(want))))
        _compare(f"grad {name} vs sd.backprop", np.asarray(got, dtype=np.float64) / scale, want / scale,
                 _tolerances(case.dtype)["backprop"], "wrong grad")


def input_tensors(sd, shapes: dict, dtype: str) -> dict:
    return {n: sd.tensor(n, shapes[n], dtype=dtype) for n in INPUT_SHAPES}


def run_group(sd, items: list, tensors: dict, timeout: int) -> dict:
    """Compile ``items`` (built cases with their expectations) as one function, call it twice
    and check every case; bisect the group when it fails to compile or run.

    Returns ``ident -> (kind, detail)`` for the cases that did not pass."""
    names = [n for n in INPUT_SHAPES if any(n in it[0].case.inputs for it in items)]
    for built, _, _, _ in items:  # every attempt starts from the initial shared values
        for n, var in built.shared.items():
            var.set_value(built.case.shared[n])
    stage = "compile"
    try:
        _alarm(timeout)
        outputs, updates = [], []
        for built, _, _, _ in items:
            outputs += built.outputs + built.grads
            updates += built.updates
        f = sd.function([tensors[n] for n in names], outputs, updates=updates or None)
        stage = "call"
        args = [next(it[0].case.inputs[n] for it in items if n in it[0].case.inputs) for n in names]
        first = [np.array(r) for r in f(*args)]
        after_first = [{n: var.get_value() for n, var in built.shared.items()} for built, _, _, _ in items]
        second = [np.array(r) for r in f(*args)]
        after_second = [{n: var.get_value() for n, var in built.shared.items()} for built, _, _, _ in items]
        signal.alarm(0)
    except Exception as exc:
        signal.alarm(0)
        if len(items) > 1:
            half = len(items) // 2
            return {**run_group(sd, items[:half], tensors, timeout), **run_group(sd, items[half:], tensors, timeout)}
        kind = "timeout" if isinstance(exc, Timeout) else _exception_kind(stage, exc)
        return {items[0][0].case.ident: (kind, _short_error(exc))}
    results: dict = {}
    offset = 0
    for (built, exp1, exp2, bp), shared1, shared2 in zip(items, after_first, after_second):
        try:
            check_call(built, exp1, first, offset, 1, shared1)
            if exp2.finite:  # (updates can leave the domain the program was generated for)
                check_call(built, exp2, second, offset, 2, shared2)
            if bp is not None:
                _compare_to_backprop(built, first, offset, bp)
        except Failure as fail:
            results[built.case.ident] = (fail.kind, fail.detail)
        offset += len(built.outputs) + len(built.grads)
    return results


def run_cases(sd, cases: list, timeout: int = 600) -> dict:
    """Check ``cases`` (one batch: same input values, dtype and shapes): ``ident -> (kind, detail)``
    for every case.  An engine failure outranks a failure of ``sd.backprop`` on the same case."""
    shapes = {n: (None,) * len(INPUT_SHAPES[n]) for n in INPUT_SHAPES}
    for c in cases:
        shapes.update(c.shapes)
    tensors = input_tensors(sd, shapes, cases[0].dtype)
    saved = {k: getattr(sd.config, k) for k in cases[0].config}
    try:
        for k, v in cases[0].config.items():
            setattr(sd.config, k, v)
        return _run_cases(sd, cases, tensors, timeout)
    finally:
        for k, v in saved.items():
            setattr(sd.config, k, v)


def _run_cases(sd, cases: list, tensors: dict, timeout: int) -> dict:
    outcome, checker, items = {}, {}, []
    for case in cases:
        try:
            exp1 = expect(case, case.shared)
            exp2 = expect(case, exp1.new_shared) if case.updates else exp1
            built = build(sd, case, tensors)
        except Failure as fail:
            outcome[case.ident] = (fail.kind, fail.detail)
            continue
        try:
            bp = check_backprop(sd, built, exp1)
        except Failure as fail:
            checker[case.ident] = (fail.kind, fail.detail)
            bp = None
        items.append((built, exp1, exp2, bp))
    if items:
        found = run_group(sd, items, tensors, timeout)
        if len(items) > 1:  # a wrong number seen in a batch: does the case fail on its own too?
            for item in items:
                kind = found.get(item[0].case.ident, ("ok",))[0]
                if not kind.startswith(("error:", "timeout", "documented:", "ok")) and not run_group(sd, [item], tensors, timeout):
                    found[item[0].case.ident] = ("batch only: " + kind, found[item[0].case.ident][1])
        outcome.update(found)
    for case in cases:
        outcome.setdefault(case.ident, checker.get(case.ident, ("ok", "")))
    return outcome


# --------------------------------------------------------------------------- command line


def _worker(args) -> None:
    """Run batches ``args.start`` .. and append one JSON line per case to ``args.journal``."""
    import symdiff as sd

    stop = _batch_range(args)[1]
    with open(args.journal, "a") as journal:
        for index in range(args.start, min(stop, args.start + BATCHES_PER_PROCESS)):
            cases = generate(args.seed, index, args.ops, args.batch)
            cases = cases[: max(0, min(args.batch, args.count - index * args.batch))]
            only = set(args.only.split(",")) if args.only else None
            if only is not None:
                cases = [c for c in cases if c.ident in only]
            journal.write(json.dumps({"begin": index, "cases": [c.ident for c in cases]}) + "\n")
            journal.flush()
            t0 = time.time()
            outcome = run_cases(sd, cases, args.timeout)
            for c in cases:
                kind, detail = outcome[c.ident]
                rec = {"id": c.ident, "kind": kind, "detail": detail, "dtype": c.dtype, "updates": bool(c.updates),
                       "n_statements": len(c.body)}
                if not passed(kind):
                    rec["source"] = c.source()
                    rec["case"] = case_to_json(c)
                journal.write(json.dumps(rec) + "\n")
            journal.write(json.dumps({"end": index, "seconds": round(time.time() - t0, 2)}) + "\n")
            journal.flush()
            if only is not None:
                return


def check_printing(sd, case: Case) -> tuple:
    """Print the case's cost and gradients with ``sd.pprint`` and ``sd.latex`` and evaluate the
    printed text with ``sd.printing.evaluate``: it must give NumPy's cost and the finite-difference
    gradients.  Returns ``(kind, detail)``."""
    shapes = {n: case.shapes.get(n, (None,) * len(INPUT_SHAPES[n])) for n in INPUT_SHAPES}
    expected = expect(case, case.shared)
    try:
        built = build(sd, case, input_tensors(sd, shapes, case.dtype))
    except Failure as fail:
        return fail.kind, fail.detail
    values = {**{n: v for n, v in case.inputs.items()}, **{n: np.asarray(v) for n, v in case.shared.items()}}
    tol = _tolerances(case.dtype)
    stage = "pprint"
    try:
        for what, expr, want in [("cost", built.cost, expected.outputs[0])] + [
                (f"grad {n}", g, fd) for n, g, fd in zip(case.wrt, built.grads, expected.grads)]:
            stage = "pprint"
            text = sd.pprint(expr)
            stage = "latex"
            sd.latex(expr)
            stage = "evaluate"
            with np.errstate(all="ignore"):
                got = np.broadcast_to(sd.printing.evaluate(text, values), np.shape(want))
            scale = max(1.0, float(np.max(np.abs(want))))
            _compare(f"printed {what}: {text!r}", np.asarray(got, dtype=np.float64) / scale, want / scale,
                     tol["fd"], "printed formula wrong")
    except Failure as fail:
        return fail.kind, fail.detail
    except Exception as exc:
        return f"error:{stage}:{type(exc).__name__}", _short_error(exc)
    return "ok", ""


def run_printing(args) -> None:
    """``check_printing`` over the cases of a run (no compilation)."""
    import symdiff as sd

    first, stop = _batch_range(args)
    records = {}
    t0 = time.time()
    for index in range(first, stop):
        for case in generate(args.seed, index, args.ops, args.batch):
            kind, detail = check_printing(sd, case)
            records[case.ident] = {"id": case.ident, "kind": kind, "detail": detail, "source": case.source()}
    report(records, args, time.time() - t0, f"printing, symdiff {sd.__file__}, seed {args.seed}")


def run_one(ident: str, ops: str, batch: int, minimal: bool = False, journal: str | None = None) -> None:
    """Run the case ``ident`` of a run alone (in this process) and print its outcome and source."""
    import symdiff as sd

    if journal:
        records, _, _ = _read_journal(journal)
        case = case_from_json(records[ident]["case"])
    else:
        seed, index, k = (int(p) for p in ident.split(":"))
        case = generate(seed, index, ops, batch)[k]
    kind, detail = run_cases(sd, [case])[case.ident]
    print(f"symdiff {sd.__file__}\n{ident}: {kind}\n{detail}\n\n{case.source()}")
    if minimal and not passed(kind):
        case = minimize(sd, case, kind)
        print(f"\nminimised: {run_cases(sd, [case])[case.ident][1]}\n\n{case.source()}")


def _prune(case: Case) -> Case:
    """``case`` without the statements nothing it outputs, costs or updates reads."""
    needed = " ".join(line for line in case.body if line.startswith(("outputs", "cost")))
    needed += " " + " ".join(e for _, e in case.updates)
    kept = []
    for line in reversed(case.body):
        name = line.split(" = ", 1)[0]
        if line.startswith(("outputs", "cost")) or _mentions(needed, name):
            kept.append(line)
            needed += " " + line.split(" = ", 1)[1]
    kept.reverse()
    text = kept + [e for _, e in case.updates]
    used = [n for n in case.inputs if any(_mentions(line, n) for line in text)]
    shared = {n: v for n, v in case.shared.items() if any(_mentions(line, n) for line in text)}
    wrt = [n for n in case.wrt if any(_mentions(line, n) for line in kept)]
    return Case(case.ident, case.ops, case.dtype, {n: case.shapes[n] for n in used}, {n: case.inputs[n] for n in used},
                shared, kept, wrt, [(n, e) for n, e in case.updates if n in shared], case.config)


def _smaller(case: Case):
    """Candidate simplifications of ``case``, one change each."""
    k_out = next(i for i, line in enumerate(case.body) if line.startswith("outputs = "))
    k_cost = next(i for i, line in enumerate(case.body) if line.startswith("cost = "))
    outputs = case.body[k_out][len("outputs = ["):-1].split(", ")
    terms = case.body[k_cost][len("cost = "):].split(" + ")
    for j in range(len(terms)):
        if len(terms) > 1:
            body = list(case.body)
            body[k_cost] = "cost = " + " + ".join(terms[:j] + terms[j + 1:])
            yield Case(**{**case.__dict__, "body": body})
    for j in range(len(outputs)):
        body = list(case.body)
        body[k_out] = "outputs = [" + ", ".join(outputs[:j] + outputs[j + 1:]) + "]"
        yield Case(**{**case.__dict__, "body": body})
    for j in range(len(case.updates)):
        yield Case(**{**case.__dict__, "updates": case.updates[:j] + case.updates[j + 1:]})
    if not any("grads[" in e for _, e in case.updates):
        for j in range(len(case.wrt)):
            yield Case(**{**case.__dict__, "wrt": case.wrt[:j] + case.wrt[j + 1:]})


def minimize(sd, case: Case, kind: str, log=print) -> Case:
    """A smaller case that still fails with ``kind`` (greedy: keep any change that still fails)."""
    changed = True
    while changed:
        changed = False
        for candidate in _smaller(case):
            candidate = _prune(candidate)
            if not candidate.inputs and not candidate.shared:
                continue
            got = run_cases(sd, [candidate])[candidate.ident][0]
            if got == kind:
                case, changed = candidate, True
                log(f"  smaller ({len(case.body)} statements, {len(case.wrt)} gradients) still fails: {got}")
                break
    return case


def _read_journal(path: str) -> tuple:
    records, open_batch, done = {}, None, set()
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "begin" in rec:
                    open_batch = rec
                elif "end" in rec:
                    done.add(rec["end"])
                    open_batch = None
                else:
                    records[rec["id"]] = rec
    return records, open_batch, done


def _batch_range(args) -> tuple:
    """The batches to run: ``--batches FIRST:STOP``, by default all that ``--count`` needs."""
    n_batches = -(-args.count // args.batch)
    if not args.batches:
        return 0, n_batches
    first, stop = (int(p) for p in args.batches.split(":"))
    return first, min(stop, n_batches)


def _died(ident: str, returncode) -> str:
    detail = f"the worker process ended with return code {returncode}" + (" (a signal)" if returncode and returncode < 0 else "")
    return json.dumps({"id": ident, "kind": "process died", "detail": detail, "dtype": "", "updates": False}) + "\n"


def _supervise(args) -> None:
    """Run the workers in child processes; a case that kills its process is recorded as such."""
    journal = args.journal or f"random_graphs_{args.ops}_{args.seed}_{args.count}.jsonl"
    first, n_batches = _batch_range(args)
    base = [sys.executable, os.path.abspath(__file__), "--worker", "--seed", str(args.seed), "--count",
            str(args.count), "--ops", args.ops, "--batch", str(args.batch), "--journal", journal,
            "--timeout", str(args.timeout), "--batches", f"{first}:{n_batches}"]
    t0 = time.time()
    returncode = None
    while True:
        records, open_batch, done = _read_journal(journal)
        start = max(done) + 1 if done else first
        if open_batch is not None:  # the process died inside this batch: run its cases one by one
            index = open_batch["begin"]
            with open(journal, "a") as fh:
                if len(open_batch["cases"]) == 1:
                    fh.write(_died(open_batch["cases"][0], returncode))
                    fh.write(json.dumps({"end": index}) + "\n")
                    continue
            for ident in [i for i in open_batch["cases"] if i not in records]:
                proc = subprocess.run(base + ["--start", str(index), "--only", ident])
                if _read_journal(journal)[1] is not None:  # died again on this one case
                    with open(journal, "a") as fh:
                        fh.write(_died(ident, proc.returncode))
                        fh.write(json.dumps({"end": -1}) + "\n")
            with open(journal, "a") as fh:
                fh.write(json.dumps({"end": index}) + "\n")
            continue
        if start >= n_batches:
            break
        proc = subprocess.run(base + ["--start", str(start)])
        returncode = proc.returncode
        _, open_batch, done2 = _read_journal(journal)
        if proc.returncode != 0 and open_batch is None and done2 == done:
            raise SystemExit(f"the worker failed without starting a batch (return code {proc.returncode})")
    import symdiff as sd

    report(_read_journal(journal)[0], args, time.time() - t0, f"symdiff {sd.__file__}, seed {args.seed}")


def _pattern(detail: str) -> str:
    """An error message without its numbers and names, to group similar failures."""
    first = detail.splitlines()[0] if detail else ""
    first = re.sub(r"slice\([^)]*\)", "slice(...)", re.sub(r"'[^']*'", "'.'", first))
    return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", first)[:110]


def report(records: dict, args, seconds: float, source: str) -> None:
    """Counts by outcome (and by message within each), then the first repros."""
    counts = Counter(r["kind"] for r in records.values())
    print(f"{source}  ops={args.ops} graphs={len(records)}  ({seconds:.0f} s)")
    for kind, n in counts.most_common():
        print(f"  {n:5d}  {kind}")
        if not passed(kind):
            messages = Counter(_pattern(r["detail"]) for r in records.values() if r["kind"] == kind)
            for text, m in messages.most_common(6):
                print(f"         {m:5d}  {text}")
    failing = [r for r in records.values() if not passed(r["kind"])]
    print(f"  passed {len(records) - len(failing)}, failed {len(failing)}")
    for r in failing[: args.repros]:
        print(f"\n--- case {r['id']}: {r['kind']}\n{r['detail']}\n{r.get('source', '')}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", choices=["old", "full"], default="full")
    parser.add_argument("--batch", type=int, default=8, help="cases compiled together in one function")
    parser.add_argument("--repros", type=int, default=5, help="repros printed")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per compiled function")
    parser.add_argument("--journal", default=None, help="JSON lines file (resumed if it exists)")
    parser.add_argument("--batches", default="", help="FIRST:STOP, a range of batches (to split a run)")
    parser.add_argument("--report", nargs="*", default=None, help="print the outcome of these journals together")
    parser.add_argument("--printing", action="store_true",
                        help="check sd.pprint/sd.latex and evaluate the printed formulas instead of compiling")
    parser.add_argument("--case", default="", help="run one case (SEED:BATCH:K) alone and print its repro")
    parser.add_argument("--minimize", action="store_true", help="with --case: shrink a failing case")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.printing:
        run_printing(args)
    elif args.report:
        records = {}
        for path in args.report:
            records.update(_read_journal(path)[0])
        seconds = sum(json.loads(line).get("seconds", 0) for path in args.report for line in open(path))
        report(records, args, seconds, ", ".join(args.report))
    elif args.case:
        run_one(args.case, args.ops, args.batch, args.minimize, args.journal)
    elif args.worker:
        _worker(args)
    else:
        _supervise(args)


if __name__ == "__main__":
    main()
