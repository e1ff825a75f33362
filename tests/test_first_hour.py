"""What a PyTensor or NumPy user types in the first hour, tried as they would:
integer data (inputs, gathers with their scatter-add gradients, onehot, arange,
argmax, accuracy), the first-hour op set, NumPy functions on symbolic tensors,
keyword arguments in compiled calls and pickling.  Values are compared with
NumPy on the same data, gradients with central finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from oracles import central_differences

RNG = np.random.default_rng(20261201)


def _fd(cost_fn, arrays, k):
    return central_differences(lambda *a: float(cost_fn(*a)), [np.array(a, dtype=float) for a in arrays], k)


def test_a_cast_to_integers_passes_no_gradient():
    """``x.astype(int)`` is piecewise constant: its gradient is zero, not one."""
    X = sd.matrix("X")
    Xv = RNG.uniform(0.1, 0.9, size=(3, 4)) + np.arange(4)  # away from the integers, where trunc jumps
    cost = sd.sum(X * X) + sd.sum(X.astype("int32") * 1.5)
    got = sd.function([X], sd.grad(cost, X))(Xv)
    want = _fd(lambda a: np.sum(a * a) + np.sum(a.astype(np.int32) * 1.5), [Xv], 0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, 2 * Xv, rtol=1e-12)
    with pytest.raises(ValueError, match=r"only through operations without a derivative \(X.astype\(.int64.\)\)"):
        sd.grad(sd.sum(X.astype("int64") * 1.0), X)
    assert sd.pprint(sd.grad(sd.sum(X.astype("float32") * 2.0), X)) == "broadcast_to(2, X.shape)"


def test_argmax_and_argmin_have_no_gradient_and_grad_says_so():
    X = sd.matrix("X")
    picked = sd.sum(sd.argmax(X, axis=1) * 1.0) + sd.sum(sd.argmin(X, axis=0) == 1)
    with pytest.raises(ValueError, match=r"only through operations without a derivative \(argmax\(X, axis=1\)"):
        sd.grad(picked, X)
    zero = sd.grad(picked, X, disconnected="ignore")
    np.testing.assert_array_equal(sd.function([X], zero)(np.ones((2, 3))), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not part of the cost's graph"):
        sd.grad(sd.sum(sd.vector("v")), X)
    with pytest.raises(TypeError, match="cost must be a float"):
        sd.grad(sd.sum(sd.argmax(X, axis=1)), X)
