"""The one table of op cases, shared by the op-gradient tests (compiled ``sd.grad``
against SymPy ``diff`` and finite differences, ``test_op_gradients.py``), the
numeric reverse-mode tests (``sd.backprop`` against finite differences,
``test_backprop.py``) and the op-completeness test (every op class of the
package is exercised by at least one case, ``test_ops_complete.py``).

A case is one small function of a few inputs:

* ``build``: the function on symdiff tensors;
* ``numpy``: the same function in plain NumPy (the reference for values and for
  finite differences; no symdiff code);
* ``args``: one :class:`Arg` per input (shape, sampler, dtype);
* ``sympy``: the same function on object arrays of SymPy symbols, element by
  element (``None`` where it cannot be written so, e.g. it depends on argmax);
  :data:`SAME` means ``numpy`` works on object arrays as it is.

Inputs are declared with run-time sizes (``None``) except axes of length 1,
which must be literal to broadcast; ``static=True`` declares every size.
Samples are drawn with a seed derived from the case name (stable across
processes).  Float inputs are differentiated; integer inputs are data.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

import symdiff as sd
from oracles import Ceil, Floor, Sign, central_differences, elementwise, sigmoid, softmax, stable_seed, sympy_gradients

E = elementwise
SAME = "same"


# --------------------------------------------------------------------------- samplers


def distinct(rng, shape):
    """Distinct values in about (-1.5, 1.5): one in each cell of a grid of ``size`` cells of
    width 3/size that has 0 on a cell edge, at least a tenth of a cell from its edges (so
    no two are within 0.2*3/size of each other, and none is that close to a kink at 0)."""
    n = int(np.prod(shape, dtype=int))
    cells = rng.permutation(n) - n // 2 + rng.uniform(0.1, 0.9, size=n)
    return (cells * (3 / max(n, 1))).reshape(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def unit(rng, shape):
    """Inside (-0.8, 0.8): the domain of arcsin, arccos, arctanh (and tan stays tame)."""
    return rng.uniform(-0.8, 0.8, size=shape)


def negative(rng, shape):
    return rng.uniform(-1.5, -0.3, size=shape)


def float32_exact(rng, shape):
    """Multiples of 1/32 plus 1/64 (never 0): exact in float32, and so are +-2**-10 steps."""
    return rng.integers(-48, 48, size=shape) / 32 + 1 / 64


def with_zeros(rng, shape):
    """Rows with no zero, one zero and two zeros (prod's gradient must stay exact)."""
    x = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    x[1, 1] = 0.0
    x[2, 0] = x[2, 2] = 0.0
    return x


def two_way_ties(rng, shape):
    """Each row's maximum and minimum are each taken by exactly two entries.

    (Central differences of a max over two tied entries give 1/2 to each, as the
    equal split of the gradient does.)"""
    rows = []
    for _ in range(shape[0]):
        hi, lo = rng.uniform(1.0, 1.5), rng.uniform(-1.5, -1.0)
        middle = rng.uniform(-0.9, 0.9, size=shape[1] - 4)
        rows.append(rng.permutation(np.concatenate([[hi, hi, lo, lo], middle])))
    return np.array(rows)


def integers(high: int):
    """A sampler of integers in [0, high)."""

    def sample(rng, shape):
        return rng.integers(0, high, size=shape)

    sample.__name__ = f"integers_below_{high}"
    return sample


def fixed(values):
    """A sampler that always gives ``values`` (indices with chosen repeats, labels, zeros)."""

    def sample(rng, shape):
        return np.array(values).reshape(shape)

    sample.__name__ = "fixed"
    return sample


@dataclass(frozen=True)
class Arg:
    """One input of a case."""

    shape: tuple
    sample: Callable = distinct
    dtype: str = "float64"

    @property
    def is_float(self) -> bool:
        return self.dtype in ("float32", "float64")


def F(*shape, sample=distinct):
    """A float64 input of ``shape`` (differentiated)."""
    return Arg(tuple(shape), sample)


def I(*shape, sample):  # noqa: E743
    """An int64 input of ``shape`` (data: indices, labels)."""
    return Arg(tuple(shape), sample, "int64")


@dataclass(frozen=True)
class Case:
    """One row of the table (see the module docstring)."""

    name: str
    build: Callable
    numpy: Callable
    args: tuple
    sympy: Callable | str | None = None
    static: bool = False
    fd_eps: float = 1e-6
    differentiable: bool = True  # False: a non-float output, only its values are checked
    rtol: float = 1e-12  # of the forward value against NumPy

    def __repr__(self) -> str:
        return f"Case({self.name})"

    @property
    def sympy_build(self):
        return self.numpy if self.sympy == SAME else self.sympy

    @property
    def float_args(self) -> list:
        return [k for k, a in enumerate(self.args) if a.is_float]

    def inputs(self) -> list:
        """The symbolic inputs: run-time sizes except literal 1s (or all literal with ``static``)."""
        return [sd.tensor(f"a{k}", a.shape if self.static else tuple(1 if n == 1 else None for n in a.shape), a.dtype)
                for k, a in enumerate(self.args)]

    def values(self) -> list:
        rng = np.random.default_rng(stable_seed(self.name))
        return [np.asarray(a.sample(rng, a.shape), dtype=a.dtype) for a in self.args]

    def weights(self, out_shape: tuple) -> np.ndarray:
        """Weights of the scalar cost ``sum(weights * output)`` (so every output entry counts differently)."""
        rng = np.random.default_rng(stable_seed(self.name + "/weights"))
        return rng.uniform(0.5, 1.5, size=out_shape)

    def expected(self) -> np.ndarray:
        with np.errstate(divide="raise", over="raise", invalid="raise"):
            return np.asarray(self.numpy(*self.values()))

    def finite_differences(self) -> list:
        """d sum(weights * numpy(...)) / d each float input, by central differences of the NumPy reference."""
        return _finite_differences(self)


@functools.lru_cache(maxsize=None)
def _finite_differences(case: Case) -> list:
    values = case.values()
    weights = case.weights(case.expected().shape)

    def cost(*floats):
        merged = list(values)
        for k, v in zip(case.float_args, floats):
            merged[k] = v
        return float(np.sum(weights * case.numpy(*merged)))

    floats = [values[k] for k in case.float_args]
    return [central_differences(cost, floats, j, eps=case.fd_eps) for j in range(len(floats))]


# --------------------------------------------------------------------------- NumPy and SymPy helpers


def np_sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_softmax(v, axis):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_logsumexp(v, axis=None):
    return np.log(np.exp(v).sum(axis=axis))


def scatter(shape, index, values):
    """Zeros of ``shape`` (object entries when ``values`` are symbolic) with ``values`` at ``index``."""
    values = np.asarray(values)
    out = np.zeros(shape, dtype=values.dtype if values.dtype == object else float)
    if values.dtype == object:
        out[...] = sp.S.Zero
    out[index] = values
    return out


def scatter_add(shape, index, values):
    values = np.asarray(values)
    out = np.zeros(shape, dtype=object if values.dtype == object else float)
    if values.dtype == object:
        out[...] = sp.S.Zero
    np.add.at(out, index, values)
    return out


def sp_variance(a, axis, ddof):
    n = a.shape[axis] if axis is not None else a.size
    centred = a - a.sum(axis=axis, keepdims=True) / n
    return (centred * centred).sum(axis=axis) / (n - ddof)


def sp_std(a, axis, ddof):
    return E(sp.sqrt)(sp_variance(a, axis, ddof))


def _sp_clip(x, lo, hi):
    return sp.Piecewise((lo, x < lo), (hi, x > hi), (x, True))


BATCH_A, BATCH_B = (2, 1, 2, 3), (3, 3, 2)  # leading axes (2, 1) and (3,) broadcast to (2, 3)
GATHER = [2, 0, 2, 1, 2]  # repeated indices: their gradients add up

# --------------------------------------------------------------------------- the table

CASES = [
    # ---- arithmetic and broadcasting
    Case("add", lambda a, b: a + b, lambda a, b: a + b, (F(2, 3), F(3)), SAME),
    Case("sub", lambda a, b: a - b, lambda a, b: a - b, (F(2, 3), F(2, 1)), SAME),
    Case("mul", lambda a, b: a * b, lambda a, b: a * b, (F(2, 3), F(1, 3)), SAME),
    Case("mul3", lambda a, b, c: a * b * c, lambda a, b, c: a * b * c, (F(2, 3), F(3), F(2, 1)), SAME),
    Case("div", lambda a, b: a / b, lambda a, b: a / b, (F(2, 3), F(2, 3, sample=positive)), SAME),
    Case("pow", lambda a, b: a**b, lambda a, b: a**b, (F(2, 3, sample=positive), F(3)), E(sp.Pow)),
    Case("pow_const", lambda a: a**3 - 2 * a ** (-2) + a**0.5, lambda a: a**3 - 2 * a ** (-2.0) + a**0.5,
         (F(2, 3, sample=positive),), E(lambda v: v**3 - 2 * v ** (-2) + sp.sqrt(v))),
    Case("rpow_rsub_rdiv", lambda a: 2.0**a - 3 / a + (1 - a), lambda a: 2.0**a - 3 / a + (1 - a),
         (F(4, sample=positive),), E(lambda v: 2**v - 3 / v + (1 - v))),
    Case("neg", lambda a: -a, lambda a: -a, (F(4),), SAME),
    Case("scalar_broadcast", lambda a, s: a * s + s, lambda a, s: a * s + s, (F(2, 3), F()), SAME),
    Case("square", sd.square, np.square, (F(2, 3),), E(lambda v: v * v)),
    # ---- elementwise functions
    Case("exp", sd.exp, np.exp, (F(2, 3),), E(sp.exp)),
    Case("expm1", sd.expm1, np.expm1, (F(2, 3),), E(lambda v: sp.exp(v) - 1)),
    Case("log", sd.log, np.log, (F(2, 3, sample=positive),), E(sp.log)),
    Case("log1p", sd.log1p, np.log1p, (F(2, 3, sample=positive),), E(lambda v: sp.log(1 + v))),
    Case("log2", sd.log2, np.log2, (F(2, 3, sample=positive),), E(lambda v: sp.log(v, 2))),
    Case("log10", sd.log10, np.log10, (F(2, 3, sample=positive),), E(lambda v: sp.log(v, 10))),
    Case("sqrt", sd.sqrt, np.sqrt, (F(2, 3, sample=positive),), E(sp.sqrt)),
    Case("abs", sd.abs, np.abs, (F(2, 3),), E(sp.Abs)),
    Case("python_abs", lambda a: abs(a) * a, lambda a: abs(a) * a, (F(4),), E(lambda v: sp.Abs(v) * v)),
    Case("sin", sd.sin, np.sin, (F(2, 3),), E(sp.sin)),
    Case("cos", sd.cos, np.cos, (F(2, 3),), E(sp.cos)),
    Case("tan", sd.tan, np.tan, (F(2, 3, sample=unit),), E(sp.tan)),
    Case("arcsin", sd.arcsin, np.arcsin, (F(2, 3, sample=unit),), E(sp.asin)),
    Case("arccos", sd.arccos, np.arccos, (F(2, 3, sample=unit),), E(sp.acos)),
    Case("arctan", sd.arctan, np.arctan, (F(2, 3),), E(sp.atan)),
    Case("sinh", sd.sinh, np.sinh, (F(2, 3),), E(sp.sinh)),
    Case("cosh", sd.cosh, np.cosh, (F(2, 3),), E(sp.cosh)),
    Case("tanh", sd.tanh, np.tanh, (F(2, 3),), E(sp.tanh)),
    Case("arcsinh", sd.arcsinh, np.arcsinh, (F(2, 3),), E(sp.asinh)),
    Case("arctanh", sd.arctanh, np.arctanh, (F(2, 3, sample=unit),), E(sp.atanh)),
    Case("sigmoid", sd.sigmoid, np_sigmoid, (F(2, 3),), E(sigmoid)),
    Case("softplus", sd.softplus, lambda a: np.log1p(np.exp(a)), (F(2, 3),), E(lambda v: sp.log(1 + sp.exp(v)))),
    Case("relu", sd.relu, lambda a: np.maximum(a, 0), (F(2, 3),), E(lambda v: sp.Piecewise((v, v > 0), (0, True)))),
    Case("numpy_ufuncs", lambda a: np.exp(a) * np.tanh(a) + np.maximum(a, 0.25),
         lambda a: np.exp(a) * np.tanh(a) + np.maximum(a, 0.25), (F(2, 3),),
         E(lambda v: sp.exp(v) * sp.tanh(v) + sp.Piecewise((v, v >= 0.25), (0.25, True)))),
    # piecewise constant: zero derivative (the products below keep a nonzero total gradient)
    Case("floor_ceil_sign", lambda a: sd.floor(a * 2) + sd.ceil(a * 3) * a + sd.sign(a) * a**2,
         lambda a: np.floor(a * 2) + np.ceil(a * 3) * a + np.sign(a) * a**2, (F(2, 3),),
         E(lambda v: Floor(2 * v) + Ceil(3 * v) * v + Sign(v) * v**2)),
    Case("sign_alone", sd.sign, np.sign, (F(5),), E(Sign)),
    # ---- dtype conversion
    Case("astype_float32", lambda a: a.astype("float32") * 3, lambda a: a.astype(np.float32) * np.float32(3),
         (F(2, 3, sample=float32_exact),), E(lambda v: 3 * v), fd_eps=2.0**-10, rtol=1e-7),
    Case("cast_int_data", lambda a, n: sd.cast(n, "float64") * a + n, lambda a, n: n.astype(np.float64) * a + n,
         (F(2, 3), I(2, 3, sample=integers(5))), lambda a, n: n * a + n),
    # ---- selection and comparisons
    Case("maximum", sd.maximum, np.maximum, (F(2, 3), F(3)), E(lambda u, v: sp.Piecewise((u, u >= v), (v, True)))),
    Case("minimum", sd.minimum, np.minimum, (F(2, 3), F(2, 3)), E(lambda u, v: sp.Piecewise((u, u <= v), (v, True)))),
    Case("where", lambda a, b: sd.where(a > b, a * b, a - b), lambda a, b: np.where(a > b, a * b, a - b),
         (F(2, 3), F(3)), E(lambda u, v: sp.Piecewise((u * v, u > v), (u - v, True)))),
    Case("where_and_or_not", lambda a, b: sd.where((a > 0) & ~(b > 0.5), a, sd.where((a < -1) | (b < -1), b, b * b)),
         lambda a, b: np.where((a > 0) & ~(b > 0.5), a, np.where((a < -1) | (b < -1), b, b * b)), (F(3, 4), F(3, 4)),
         E(lambda u, v: sp.Piecewise((u, sp.And(u > 0, sp.Not(v > 0.5))), (v, sp.Or(u < -1, v < -1)), (v * v, True)))),
    Case("where_all_comparisons",
         lambda a, b: sd.where((a <= b) | (a >= 0.5), a * b, 2 * a) + sd.where((a < b) & (a != 0.25), b, a)
         + sd.where(sd.floor(2 * a) == sd.floor(2 * b), a, -b),
         lambda a, b: np.where((a <= b) | (a >= 0.5), a * b, 2 * a) + np.where((a < b) & (a != 0.25), b, a)
         + np.where(np.floor(2 * a) == np.floor(2 * b), a, -b), (F(3, 4), F(3, 4)),
         E(lambda u, v: sp.Piecewise((u * v, sp.Or(u <= v, u >= 0.5)), (2 * u, True))
           + sp.Piecewise((v, sp.And(u < v, sp.Ne(u, 0.25))), (u, True))
           + sp.Piecewise((u, sp.Eq(Floor(2 * u), Floor(2 * v))), (-v, True)))),
    Case("where_integer_condition", lambda a, n: sd.where(n == 1, a, -a) + sd.where(n != 2, a * a, 0.0),
         lambda a, n: np.where(n == 1, a, -a) + np.where(n != 2, a * a, 0.0), (F(2, 4), I(4, sample=fixed([1, 2, 0, 1]))),
         lambda a, n: np.where(n == 1, a, -a) + np.where(n != 2, a * a, sp.S.Zero)),
    Case("clip", lambda a: sd.clip(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), (F(3, 4),),
         E(lambda v: _sp_clip(v, -0.5, 0.5))),
    Case("clip_tensor_bounds", lambda a, lo, hi: a.clip(lo, hi), lambda a, lo, hi: np.clip(a, lo, hi),
         (F(3, 4), F(4, sample=negative), F(4, sample=positive)), E(_sp_clip)),
    Case("clip_crossed_bounds", lambda a, lo, hi: sd.clip(a, lo, hi), lambda a, lo, hi: np.clip(a, lo, hi),
         (F(5), F(5, sample=positive), F(5, sample=negative)),  # a_min > a_max: NumPy gives a_max everywhere
         E(lambda x, lo, hi: sp.Min(sp.Max(x, lo), hi))),
    # ---- reductions
    Case("sum_all", sd.sum, np.sum, (F(2, 3),), lambda a: a.sum()),
    Case("sum_axis0", lambda a: sd.sum(a, axis=0), lambda a: a.sum(axis=0), (F(2, 3),), SAME),
    Case("sum_axes_3d", lambda a: a.sum(axis=(0, 2)), lambda a: a.sum(axis=(0, 2)), (F(2, 3, 2),), SAME),
    Case("sum_keepdims", lambda a: sd.exp(a) / sd.sum(a * a, axis=1, keepdims=True),
         lambda a: np.exp(a) / (a * a).sum(axis=1, keepdims=True), (F(2, 3, sample=positive),),
         lambda a: E(sp.exp)(a) / (a * a).sum(axis=1, keepdims=True)),
    Case("mean_axis1", lambda a: sd.mean(a, axis=1), lambda a: a.mean(axis=1), (F(2, 3),), lambda a: a.sum(axis=1) / 3),
    Case("mean_all", lambda a: a.mean(), np.mean, (F(2, 3),), lambda a: a.sum() / 6),
    Case("prod", lambda a: sd.prod(a, axis=1), lambda a: a.prod(axis=1), (F(2, 3, sample=positive),), SAME),
    Case("prod_3d_keepdims", lambda a: sd.prod(a, axis=(0, 2), keepdims=True), lambda a: a.prod(axis=(0, 2), keepdims=True),
         (F(2, 3, 2),), SAME),
    Case("prod_with_zeros", lambda a: a.prod(axis=1), lambda a: a.prod(axis=1), (F(3, 3, sample=with_zeros),), SAME),
    Case("prod_all_with_zero", sd.prod, np.prod, (F(4, sample=fixed([2.0, 0.0, 3.0, -1.5])),), lambda a: a.prod()),
    # the second derivative of prod (a gradient inside the function: its gradient is the Hessian's product)
    Case("prod_hessian_vector", lambda a, v: sd.sum(sd.grad(sd.prod(a), a) * v),
         lambda a, v: sum(v[i] * np.prod(np.delete(a, i)) for i in range(len(a))),
         (F(4, sample=fixed([2.0, 0.0, 3.0, -1.5])), F(4)),
         lambda a, v: sum((v[i] * sp.Mul(*[a[k] for k in range(len(a)) if k != i]) for i in range(len(a))), sp.S.Zero)),
    Case("max_axis", lambda a: sd.max(a, axis=1), lambda a: a.max(axis=1), (F(3, 4),),
         lambda a: np.array([sp.Max(*row) for row in a], dtype=object)),
    Case("min_all", sd.min, np.min, (F(3, 4),), lambda a: sp.Min(*a.ravel())),
    Case("max_keepdims", lambda a: a - sd.max(a, axis=0, keepdims=True), lambda a: a - a.max(axis=0, keepdims=True),
         (F(3, 4),), lambda a: a - np.array([[sp.Max(*col) for col in a.T]], dtype=object)),
    Case("max_ties", lambda a: a.max(axis=1), lambda a: a.max(axis=1), (F(3, 6, sample=two_way_ties),)),
    Case("min_ties", lambda a: sd.min(a, axis=1, keepdims=True) * 2, lambda a: a.min(axis=1, keepdims=True) * 2,
         (F(3, 6, sample=two_way_ties),)),
    Case("var", sd.var, np.var, (F(2, 3),), lambda a: sp_variance(a, None, 0)),
    Case("var_ddof1_axis0", lambda a: sd.var(a, axis=0, ddof=1), lambda a: np.var(a, axis=0, ddof=1), (F(3, 2),),
         lambda a: sp_variance(a, 0, 1)),
    Case("std_ddof1_keepdims", lambda a: a.std(axis=1, ddof=1, keepdims=True), lambda a: a.std(axis=1, ddof=1, keepdims=True),
         (F(2, 4),), lambda a: sp_std(a, 1, 1)[:, None]),
    Case("softmax", lambda a: sd.softmax(a, axis=1), lambda a: np_softmax(a, 1), (F(2, 3),), lambda a: softmax(a, 1)),
    Case("softmax_3d_middle", lambda a: sd.softmax(a, axis=1), lambda a: np_softmax(a, 1), (F(2, 3, 2),),
         lambda a: softmax(a, 1)),
    Case("log_softmax", lambda a: sd.log_softmax(a, axis=0), lambda a: np.log(np_softmax(a, 0)), (F(2, 3),),
         lambda a: E(sp.log)(softmax(a, 0))),
    Case("logsumexp", lambda a: sd.logsumexp(a, axis=1), lambda a: np_logsumexp(a, 1), (F(2, 3),),
         lambda a: E(sp.log)(E(sp.exp)(a).sum(axis=1))),
    Case("logsumexp_all", sd.logsumexp, np_logsumexp, (F(2, 3),), lambda a: sp.log(E(sp.exp)(a).sum())),
    Case("logsumexp_keepdims_axes", lambda a: sd.logsumexp(a, axis=(0, 2), keepdims=True),
         lambda a: np.log(np.exp(a).sum(axis=(0, 2), keepdims=True)), (F(2, 2, 3),),
         lambda a: E(sp.log)(E(sp.exp)(a).sum(axis=(0, 2), keepdims=True))),
    Case("argmax_argmin", lambda a: sd.argmax(a, axis=1) * 10 + sd.argmin(a, axis=0).sum(),
         lambda a: np.argmax(a, axis=1) * 10 + np.argmin(a, axis=0).sum(), (F(3, 4),), differentiable=False),
    Case("argmax_flat_keepdims", lambda a: sd.argmax(a, keepdims=True) - a.argmin(),
         lambda a: np.argmax(a, keepdims=True) - a.argmin(), (F(3, 4),), differentiable=False),
    Case("value_at_argmax", lambda a: a[sd.arange(a.shape[0]), sd.argmax(a, axis=1)] ** 2,
         lambda a: a[np.arange(a.shape[0]), np.argmax(a, axis=1)] ** 2, (F(3, 4),)),
    # ---- matrix products
    Case("matmul_mm", lambda a, b: a @ b, lambda a, b: a @ b, (F(2, 3), F(3, 4)), SAME),
    Case("matmul_mv", lambda a, b: a @ b, lambda a, b: a @ b, (F(2, 3), F(3)), SAME),
    Case("matmul_vm", lambda a, b: sd.dot(a, b), lambda a, b: a @ b, (F(3), F(3, 2)), SAME),
    Case("matmul_vv", lambda a, b: a @ b, lambda a, b: a @ b, (F(3), F(3)), lambda a, b: a.dot(b)),
    Case("matmul_self", lambda a: a @ a, lambda a: a @ a, (F(3, 3),), SAME),
    # two matrix-vector products of one matrix: compiled as one pass over it (MatVecPair)
    Case("matvec_pair", lambda a, u, v: (a @ u) * (a @ v), lambda a, u, v: (a @ u) * (a @ v), (F(3, 2), F(2), F(2)),
         SAME),
    Case("matmul_batched_broadcast", lambda a, b: a @ b, lambda a, b: a @ b, (F(*BATCH_A), F(*BATCH_B)), SAME),
    Case("matmul_vector_batched", lambda a, b: a @ b, lambda a, b: a @ b, (F(3), F(2, 3, 2)), SAME),
    Case("matmul_batched_vector", lambda a, b: sd.matmul(a, b), lambda a, b: a @ b, (F(2, 2, 3), F(3)), SAME),
    Case("outer", sd.outer, np.outer, (F(3), F(2)), lambda a, b: np.outer(a, b)),
    # ---- shape ops
    Case("transpose", lambda a: a.T * sd.exp(a.T), lambda a: a.T * np.exp(a.T), (F(2, 3),),
         lambda a: a.T * E(sp.exp)(a.T)),
    Case("transpose_perm", lambda a: sd.transpose(a, (1, 2, 0)) ** 2, lambda a: np.transpose(a, (1, 2, 0)) ** 2,
         (F(2, 3, 2),), SAME),
    Case("reshape_minus_one", lambda a: sd.reshape(a, (3, -1)) * sd.reshape(a, (3, 2)),
         lambda a: a.reshape(3, 2) ** 2, (F(2, 3),), SAME),
    Case("flatten_run_time", lambda a: a.flatten() * a.reshape(-1)[::-1], lambda a: a.reshape(-1) * a.reshape(-1)[::-1],
         (F(2, 3),), SAME),
    Case("identity_views", lambda a: sd.transpose(a) * sd.concatenate([a]) + sd.sum(a, axis=()) + sd.stack([a])[0],
         lambda a: a * a + a + a, (F(4),), SAME),
    Case("expand_dims", lambda a: sd.expand_dims(a, 1) * a, lambda a: np.expand_dims(a, 1) * a, (F(2, 3),), SAME),
    Case("newaxis", lambda a, b: a[None] * b[:, None], lambda a, b: a[None] * b[:, None], (F(3), F(2)), SAME),
    Case("ellipsis", lambda a: a[..., 0] * a[..., 1:].sum(axis=-1), lambda a: a[..., 0] * a[..., 1:].sum(axis=-1),
         (F(2, 2, 3),), SAME),
    Case("broadcast_to", lambda a: sd.broadcast_to(a, (3, 2, 4)) * 2, lambda a: np.broadcast_to(a, (3, 2, 4)) * 2,
         (F(2, 4),), SAME, static=True),
    Case("broadcast_new_middle_axis", lambda a: sd.broadcast_to(a[:, None, :], (2, 3, 4)) * 2,
         lambda a: np.broadcast_to(a[:, None, :], (2, 3, 4)) * 2, (F(2, 4),), SAME, static=True),
    Case("broadcast_to_run_time", lambda a, b: sd.broadcast_to(a, (b.shape[0], a.shape[0])) * b[:, None],
         lambda a, b: np.broadcast_to(a, (b.shape[0], a.shape[0])) * b[:, None], (F(3), F(2)), SAME),
    Case("index", lambda a: a[1, :2] * a[0, 1:], lambda a: a[1, :2] * a[0, 1:], (F(2, 3),), SAME),
    Case("slice_negative_bounds", lambda a: a[:, -2:] ** 2 + a[-1, 1:], lambda a: a[:, -2:] ** 2 + a[-1, 1:],
         (F(2, 3),), SAME),
    Case("slice_run_time", lambda a: a[1:] - a[:-1], lambda a: a[1:] - a[:-1], (F(5),), SAME),
    Case("slice_strided", lambda a: a[::2] * a[1::2] + a[::-1][:3], lambda a: a[::2] * a[1::2] + a[::-1][:3], (F(6),),
         SAME, static=True),
    Case("slice_negative_step_2d", lambda a: a[::-1, 3:0:-2] * 2, lambda a: a[::-1, 3:0:-2] * 2, (F(3, 5),), SAME),
    Case("two_views", lambda a: sd.sum(a[1]) + sd.sum(a[:, 2]), lambda a: np.sum(a[1]) + np.sum(a[:, 2]), (F(3, 4),),
         lambda a: a[1].sum() + a[:, 2].sum()),
    Case("concatenate", lambda a, b: sd.concatenate([a, b * b], axis=1), lambda a, b: np.concatenate([a, b * b], axis=1),
         (F(2, 3), F(2, 2)), SAME),
    Case("concatenate_axis0_three", lambda a, b: sd.concatenate([a, b, a * 2]), lambda a, b: np.concatenate([a, b, a * 2]),
         (F(2), F(3)), SAME),
    Case("stack", lambda a, b: sd.stack([a, sd.exp(b)], axis=1), lambda a, b: np.stack([a, np.exp(b)], axis=1),
         (F(3), F(3)), lambda a, b: np.stack([a, E(sp.exp)(b)], axis=1)),
    Case("stack_scalars", lambda a, b: sd.stack([a * b, a - b]), lambda a, b: np.stack([a * b, a - b]), (F(), F()), SAME),
    # ---- integer data: gathers, one-hot, arange
    Case("take_repeated", lambda a, i: sd.take(a, i, axis=1) ** 2, lambda a, i: np.take(a, i, axis=1) ** 2,
         (F(2, 3), I(5, sample=fixed(GATHER))), SAME),
    Case("index_int_array", lambda a: a[np.array(GATHER)] * 3, lambda a: a[np.array(GATHER)] * 3, (F(4),), SAME),
    Case("index_int_tensor_2d", lambda a, i: a[i] * a[i], lambda a, i: a[i] * a[i],
         (F(3, 2), I(2, 2, sample=fixed([[0, 2], [2, 2]]))), SAME),
    Case("index_negative_int", lambda a, i: a[i], lambda a, i: a[i], (F(4), I(3, sample=fixed([-1, 0, -1]))), SAME),
    Case("arange_labels", lambda a, n: a[sd.arange(a.shape[0]), n], lambda a, n: a[np.arange(a.shape[0]), n],
         (F(4, 3), I(4, sample=fixed([2, 0, 2, 1]))), SAME),
    Case("two_axis_gather", lambda a, i, j: a[i, :, j], lambda a, i, j: a[i, :, j],
         (F(3, 2, 4), I(3, sample=fixed([0, 2, 0])), I(3, sample=fixed([3, 3, 1]))), SAME),
    Case("onehot_cross_entropy", lambda a, n: -sd.sum(sd.onehot(n, 3) * sd.log_softmax(a, axis=1), axis=1),
         lambda a, n: -np.sum(np.eye(3)[n] * np.log(np_softmax(a, 1)), axis=1),
         (F(4, 3), I(4, sample=fixed([2, 0, 2, 1]))), lambda a, n: -np.sum(np.eye(3)[n] * E(sp.log)(softmax(a, 1)), axis=1)),
    Case("arange_weights", lambda a: a * sd.arange(a.shape[0]) + sd.arange(3) * 0.5,
         lambda a: a * np.arange(a.shape[0]) + np.arange(3) * 0.5, (F(3),), SAME),
    Case("onehot_arange_values", lambda n: sd.onehot(n, 4) * sd.arange(4), lambda n: np.eye(4)[n] * np.arange(4),
         (I(3, sample=fixed([3, 0, 3])),), differentiable=False),
    Case("comparisons_values", lambda a, b: ((a < b) | ~(a >= 0)) & (a != b) | (a == a[0]),
         lambda a, b: ((a < b) | ~(a >= 0)) & (a != b) | (a == a[0]), (F(5), F(5)), differentiable=False),
    # ---- gradient graphs (their own ops: scatter, part of a concatenation, step, sign, ties, scatter-add)
    Case("grad_of_index", lambda a: sd.grad(sd.sum(a[1:, :2] ** 3), a),
         lambda a: scatter(a.shape, (slice(1, None), slice(None, 2)), 3 * a[1:, :2] ** 2), (F(3, 3),), SAME),
    Case("grad_of_concatenate", lambda a, b: sd.grad(sd.sum(sd.concatenate([a, b], axis=1) ** 3), a),
         lambda a, b: 3 * a**2, (F(2, 3), F(2, 2)), SAME),
    Case("grad_of_abs", lambda a: sd.grad(sd.sum(sd.abs(a) * a), a), lambda a: 2 * np.abs(a), (F(2, 3),),
         lambda a: 2 * E(sp.Abs)(a)),
    Case("grad_of_relu", lambda a: sd.grad(sd.sum(sd.relu(a) * a), a), lambda a: 2 * np.maximum(a, 0), (F(2, 3),),
         E(lambda v: 2 * sp.Piecewise((v, v > 0), (0, True)))),
    Case("grad_of_max", lambda a: sd.grad(sd.sum(sd.max(a, axis=1) * a[:, 0]), a),
         lambda a: (a == a.max(axis=1, keepdims=True)) * a[:, :1] + scatter(a.shape, (slice(None), 0), a.max(axis=1)),
         (F(3, 4),)),
    Case("grad_of_gather", lambda a, i: sd.grad(sd.sum(a[i] ** 3), a),
         lambda a, i: scatter_add(a.shape, i, 3 * a[i] ** 2), (F(4), I(5, sample=fixed(GATHER))), SAME),
    # ---- a composition
    Case("chain", lambda a, b: sd.tanh(a @ b) * sd.log1p(sd.square(a @ b)),
         lambda a, b: np.tanh(a @ b) * np.log1p((a @ b) ** 2), (F(2, 3), F(3, 2)),
         lambda a, b: E(lambda v: sp.tanh(v) * sp.log(1 + v * v))(a.dot(b))),
]

BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES), "case names must be unique"


def ids(cases) -> list:
    return [c.name for c in cases]


def compile_case(case: Case, **options):
    """``sd.function`` of a case: its output and (if differentiable) the gradients of
    ``sum(w * output)`` with respect to its float inputs, ``w`` a last input."""
    xs = case.inputs()
    out = case.build(*xs)
    if not case.differentiable:
        return sd.function(xs, [out], **options)
    w = sd.tensor("w", shape=(None,) * out.ndim)
    cost = sd.sum(w * out)
    return sd.function(xs + [w], [out] + list(sd.grad(cost, [xs[k] for k in case.float_args])), **options)


def check_forward(case: Case, got: np.ndarray) -> None:
    """A computed value of a case against its NumPy reference (shape, dtype and values)."""
    expected = case.expected()
    assert got.shape == expected.shape, f"{case.name}: shape {got.shape}, NumPy gives {expected.shape}"
    assert got.dtype == expected.dtype, f"{case.name}: dtype {got.dtype}, NumPy gives {expected.dtype}"
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected, err_msg=f"{case.name}: forward value")
    else:
        np.testing.assert_allclose(got, expected, rtol=case.rtol, atol=1e-14, err_msg=f"{case.name}: forward value")


def check_compiled(case: Case, f, sympy: bool = True) -> None:
    """Run a function from :func:`compile_case`: the value against NumPy, the gradients
    against SymPy ``diff`` (if ``sympy`` and the case has a SymPy builder) and against
    central finite differences of the NumPy reference."""
    values = case.values()
    if not case.differentiable:
        check_forward(case, f(*values)[0])
        return
    weights = case.weights(case.expected().shape)
    got, *grads = f(*values, weights)
    check_forward(case, got)
    for k, g in zip(case.float_args, grads):
        assert g.shape == values[k].shape and g.dtype == values[k].dtype, f"{case.name}: d/d a{k}"
    if sympy and case.sympy_build is not None:
        differentiable = [a.is_float for a in case.args]
        for k, g, e in zip(case.float_args, grads, sympy_gradients(case.sympy_build, values, weights, differentiable)):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11, err_msg=f"{case.name}: d/d a{k} vs SymPy")
    for k, g, fd in zip(case.float_args, grads, case.finite_differences()):
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"{case.name}: d/d a{k} vs finite differences")


def graph_classes(case: Case) -> set:
    """The node classes of a case's graph and of its gradient's graph, as built and
    as a compiled function lowers them."""
    from symdiff.graph.walk import postorder
    from symdiff.runtime.function import lowered

    xs = case.inputs()
    out = case.build(*xs)
    roots = [out.node]
    if case.differentiable:
        cost = sd.sum(out * 1.5)
        roots += [g.node for g in sd.grad(cost, [xs[k] for k in case.float_args])]
    return {type(n) for n in postorder(roots + lowered(roots))}
