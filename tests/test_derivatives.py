"""sd.jacobian, sd.hessian and sd.hvp: every op's batched adjoint, the closed matrix
forms, and values against oracles that share no code with the engine (SymPy's own
``jacobian``/``hessian`` of functions written element by element, central finite
differences, the hand-derived closed forms, finite differences of ``sd.backprop``)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import sympy as sp

import symdiff as sd
from oracles import symbol_array
from symdiff.checking.backprop import Tape
from symdiff.graph.walk import postorder
from symdiff.ops.elementwise import ELEMENTWISE_OPS
from symdiff.ops.identity import IDENTITY_OPS, Diag, Eye
from symdiff.ops.indexing import INDEXING_OPS
from symdiff.ops.linalg import LINALG_OPS, MatMul
from symdiff.ops.reductions import REDUCTION_OPS
from symdiff.ops.shape import SHAPE_OPS
from cases import CASES as TABLE
from cases import Case, F, distinct, positive, unit

E = np.vectorize


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def _numpy_value(expr, variables, values):
    """``expr`` evaluated by the NumPy tape (no compiled code, no derivative rules)."""
    node = expr.node
    return Tape([node], dict(zip(variables, values)), precision="float64").value(node)


def _central_jacobian(f, values, k, eps=1e-6):
    """d f / d values[k] (shape f.shape + values[k].shape) by central differences."""
    base = [np.array(v, dtype=float) for v in values]
    out_shape = np.shape(f(*base))
    jac = np.zeros(out_shape + base[k].shape)
    flat = base[k].reshape(-1)
    cols = jac.reshape(out_shape + (-1,))
    for i in range(flat.size):
        old = flat[i]
        step = eps * max(1.0, abs(old))
        flat[i] = old + step
        up = np.array(f(*base))
        flat[i] = old - step
        down = np.array(f(*base))
        flat[i] = old
        cols[..., i] = (up - down) / (2 * step)
    return jac


def _sympy_jacobian(build, values, k):
    """The Jacobian of the element-wise function ``build`` by SymPy's ``Matrix.jacobian``, at ``values``."""
    syms = [symbol_array(f"a{j}", v.shape) for j, v in enumerate(values)]
    out = np.asarray(build(*syms), dtype=object)
    rows = sp.Matrix([sp.sympify(e) for e in out.ravel()])
    jac = rows.jacobian(list(syms[k].ravel()))
    point = {s: sp.Float(float(x)) for sa, v in zip(syms, values) for s, x in zip(sa.ravel(), np.ravel(v))}
    dense = np.array([[float(sp.sympify(e).subs(point).evalf()) for e in jac.row(i)] for i in range(jac.rows)], dtype=float)
    return dense.reshape(out.shape + values[k].shape)


# --------------------------------------------------------------------------- every op's batched adjoint

# ops beyond the shared table (tests/cases.py), as more cases: the numpy reference is not
# used here (the NumPy tape evaluates the graph)
MORE_CASES = [
    Case(name, build, None, tuple(F(*shape, sample=sample) for shape in shapes))
    for name, build, shapes, sample in [
        ("max_axis", lambda a: sd.max(a, axis=1) * 2.0, [(3, 4)], distinct),
        ("min_keepdims", lambda a: a - sd.min(a, axis=0, keepdims=True), [(3, 4)], distinct),
        ("gather_rows", lambda a: a[np.array([2, 0, 2])] ** 2, [(3, 2)], distinct),
        ("gather_pairs", lambda a: sd.exp(a[np.array([0, 2, 1]), np.array([1, 0, 1])]), [(3, 2)], distinct),
        ("gather_apart", lambda a: a[np.array([1, 0]), :, np.array([0, 1])] * 3.0, [(2, 3, 2)], distinct),
        ("take", lambda a: sd.take(a, np.array([1, 1, 0]), axis=1) * a[:, :1], [(2, 3)], distinct),
        ("broadcast_to", lambda a: sd.broadcast_to(a, (2, 3)) * sd.sin(a), [(3,)], distinct),
        ("cast32", lambda a: sd.exp(sd.cast(sd.cast(a, "float32"), "float64")), [(3,)], distinct),
        ("log2_log10", lambda a: sd.log2(a) + sd.log10(a) * a, [(3,)], positive),
        ("arccos_asinh", lambda a: sd.arccos(a) * sd.arcsinh(a), [(3,)], unit),
        ("arctanh", lambda a: sd.arctanh(a), [(4,)], unit),
        ("sign_floor", lambda a: a * sd.sign(a) + sd.floor(a) + sd.ceil(a), [(4,)], distinct),
        ("expand_dims", lambda a: sd.expand_dims(a, 1) * a, [(3,)], distinct),
        ("matmul_stack", lambda a, b: a @ b, [(2, 2, 3), (3, 2)], distinct),
        ("matmul_vec_stack", lambda a, b: a @ b, [(3,), (2, 3, 2)], distinct),
    ]
]
CASES = {case.name: case for case in list(TABLE) + MORE_CASES}
ALL_CASES = [name for name, case in CASES.items() if case.differentiable and len(case.float_args) == len(case.args)]


@pytest.mark.parametrize("name", ALL_CASES)
def test_every_op_takes_a_batched_adjoint(name):
    """The Jacobian of each op's output (an identity-seeded, batched reverse sweep
    through the op's vjp) against central differences of the op's NumPy forward."""
    case = CASES[name]
    values, xs = case.values(), case.inputs()
    out = case.build(*xs)
    if out.ndim == 0:
        out = out * sd.exp(xs[0]).sum()  # a vector output keeps the sweep batched
    jacs = sd.jacobian(out, xs, disconnected="ignore")
    forward = lambda *v: _numpy_value(out, xs, v)  # noqa: E731
    float32 = any(n.dtype == "float32" for n in postorder([out.node]))
    eps, rtol = (1e-2, 1e-3) if float32 else (1e-6, 1e-6)  # steps below float32 resolution are noise
    for k, jac in enumerate(jacs):
        got = _numpy_value(jac, xs, values)
        fd = _central_jacobian(forward, values, k, eps)
        assert got.shape == fd.shape
        np.testing.assert_allclose(got, fd, rtol=rtol, atol=1e-8, err_msg=f"{name}: d out / d a{k}")


@pytest.mark.parametrize("name", [name for name in ALL_CASES if CASES[name].sympy_build is not None][::3])
def test_jacobian_matches_sympy(name):
    case = CASES[name]
    sym_build = case.sympy_build
    values, xs = case.values(), case.inputs()
    jacs = sd.jacobian(case.build(*xs), xs)
    for k, jac in enumerate(jacs):
        np.testing.assert_allclose(_numpy_value(jac, xs, values), _sympy_jacobian(sym_build, values, k),
                                   rtol=1e-9, atol=1e-12, err_msg=f"{name}: d out / d a{k}")


# cases whose Jacobian holds the adjoint-only ops (scatter, slices, diag): differentiated once more
SECOND_ORDER = [name for name in ("index", "slice_neg", "slice_negative_step", "concatenate", "stack", "gather_rows",
                                  "gather_apart", "take", "exp", "matmul_mv", "softmax", "logsumexp_all",
                                  "log_softmax", "prod")
                if name in CASES]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_adjoint_ops_take_a_batched_adjoint(name):
    """The Jacobian of a Jacobian: the batched sweep runs through the ops that only
    derivative rules build (IndexAdjoint, IndexAdd, AxisSlice, Diag, ...)."""
    case = CASES[name]
    values, xs = case.values(), case.inputs()
    jac = sd.jacobian(case.build(*xs), xs[0])
    second = sd.jacobian(jac, xs, disconnected="ignore")
    forward = lambda *v: _numpy_value(jac, xs, v)  # noqa: E731
    for k, sec in enumerate(second):
        np.testing.assert_allclose(_numpy_value(sec, xs, values), _central_jacobian(forward, values, k),
                                   rtol=1e-6, atol=1e-8, err_msg=f"{name}: d2 out / d a0 d a{k}")


def test_every_differentiable_op_is_covered():
    """Each differentiable op class is differentiated by a batched sweep in some test
    above (a new op needs a case)."""
    seen = set()
    for name in ALL_CASES:
        case = CASES[name]
        seen |= {type(n) for n in postorder([case.build(*case.inputs()).node])}
    for name in SECOND_ORDER:
        case = CASES[name]
        xs = case.inputs()
        seen |= {type(n) for n in postorder([sd.jacobian(case.build(*xs), xs[0]).node])}
    ops = set(ELEMENTWISE_OPS) | set(SHAPE_OPS) | set(REDUCTION_OPS) | set(LINALG_OPS) | set(INDEXING_OPS) \
        | set(IDENTITY_OPS)
    needed = {op for op in ops if op.differentiable and op.__name__ not in (
        "ProdOthersAdjoint",  # prod's third derivative is not supported (it raises)
        "Step",  # piecewise constant, built only by relu's derivative
    )}
    assert needed - seen == set()


def test_identity_ops_differentiate():
    """eye and diag in a result differentiate again: the Jacobian of a Jacobian."""
    x = sd.vector("x")
    j = sd.jacobian(sd.exp(x) * x, x)  # diag((x + 1)*exp(x))
    assert isinstance(j.node, Diag)
    third = sd.jacobian(j, x)
    v = np.array([0.3, -0.7, 1.1])
    got = _numpy_value(third, [x], [v])
    expected = np.zeros((3, 3, 3))
    for i in range(3):
        expected[i, i, i] = (v[i] + 2) * np.exp(v[i])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    f = sd.function([x], [j, third])
    np.testing.assert_allclose(f(v)[0], np.diag((v + 1) * np.exp(v)), rtol=1e-12)
    np.testing.assert_allclose(f(v)[1], expected, rtol=1e-12)
    assert {Eye, Diag} <= set(IDENTITY_OPS)


# --------------------------------------------------------------------------- closed forms


def _logistic(textbook: bool = False):
    X, y, w = sd.matrix("X"), sd.vector("y"), sd.vector("w")
    z = X @ w
    if textbook:
        s = sd.sigmoid(z)
        loss = sd.mean(-y * sd.log(s) - (1 - y) * sd.log(1 - s))
    else:
        loss = sd.mean(sd.softplus(z) - y * z)
    return X, y, w, loss


def _logistic_data(n=40, p=5, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (rng.random(n) < 0.5).astype(float)
    w = rng.standard_normal(p) * 0.5
    return X, y, w


def _matmuls(expr) -> list:
    return [n for n in postorder([expr.node]) if isinstance(n, MatMul)]


def _no_identity(expr) -> bool:
    return not any(isinstance(n, (Eye, Diag)) for n in postorder([expr.node]))


@pytest.mark.parametrize("textbook", [False, True])
def test_logistic_regression_hessian_is_one_matrix_formula(textbook):
    X, y, w, loss = _logistic(textbook)
    H = sd.hessian(loss, w)
    text = sd.pprint(H)
    main = text.split("\n")[0]
    assert main == "((X.T*t1*(1 - t1)) @ X)/N"  # the textbook form too, once its weight is simplified
    assert "t1 = sigmoid(X @ w)" in text
    assert _no_identity(H)
    # one product with the data besides the forward X @ w: no per-row loop, no n reverse passes
    assert len(_matmuls(H)) == 2
    Xv, yv, wv = _logistic_data()
    s = 1 / (1 + np.exp(-Xv @ wv))
    closed = Xv.T @ (Xv * (s * (1 - s))[:, None]) / len(yv)
    got = sd.function([X, y, w], H)(Xv, yv, wv)
    np.testing.assert_allclose(got, closed, rtol=1e-12, atol=1e-15)
    printed = sd.printing.evaluate(text, {"X": Xv, "y": yv, "w": wv})
    np.testing.assert_allclose(printed, closed, rtol=1e-12, atol=1e-15)


def test_logistic_regression_hessian_against_sympy():
    """SymPy's own ``hessian`` of the log-loss written out element by element."""
    Xv, yv, wv = _logistic_data(n=6, p=3, seed=11)
    ws = sp.symbols("w0:3", real=True)
    loss = 0
    for i in range(6):
        zi = sum(sp.Float(Xv[i, j]) * ws[j] for j in range(3))
        si = 1 / (1 + sp.exp(-zi))
        loss += -sp.Float(yv[i]) * sp.log(si) - (1 - sp.Float(yv[i])) * sp.log(1 - si)
    loss = loss / 6
    Hs = sp.hessian(loss, ws).subs(dict(zip(ws, map(sp.Float, wv))))
    expected = np.array(Hs.evalf(), dtype=float)
    for textbook in (False, True):
        X, y, w, cost = _logistic(textbook)
        got = sd.function([X, y, w], sd.hessian(cost, w))(Xv, yv, wv)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)


def test_quadratic_form_hessian():
    x, A = sd.vector("x"), sd.matrix("A")
    H = sd.hessian(x @ A @ x, x)
    assert sd.pprint(H) == "A + A.T"
    Av = np.random.default_rng(1).standard_normal((4, 4))
    np.testing.assert_allclose(sd.function([x, A], H)(np.ones(4), Av), Av + Av.T, rtol=1e-15)
    assert sd.pprint(sd.grad(x @ A @ x, x)) in ("A @ x + x @ A", "x @ A + A @ x")


def test_least_squares_hessian():
    X, w, y = sd.matrix("X"), sd.vector("w"), sd.vector("y")
    H = sd.hessian(sd.sum((X @ w - y) ** 2), w)
    assert sd.pprint(H) == "2*(X.T @ X)"
    Xv = np.random.default_rng(2).standard_normal((7, 3))
    np.testing.assert_allclose(sd.function([X, w, y], H)(Xv, np.ones(3), np.ones(7)), 2 * Xv.T @ Xv, rtol=1e-13)


def test_softmax_jacobian():
    z = sd.vector("z")
    J = sd.jacobian(sd.softmax(z), z)
    text = sd.pprint(J)
    assert text.split("\n")[0] == "diag(t1) - t1*t1[:, None]"
    assert "t1 = softmax(z, axis=0)" in text
    zv = np.array([0.2, -1.0, 0.5, 2.0])
    s = np.exp(zv) / np.exp(zv).sum()
    closed = np.diag(s) - np.outer(s, s)
    np.testing.assert_allclose(sd.function([z], J)(zv), closed, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(sd.printing.evaluate(text, {"z": zv}), closed, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(_sympy_jacobian(lambda a: np.exp(a) / np.exp(a).sum() if False else
                                               np.array([sp.exp(e) for e in a]) / sum(sp.exp(e) for e in a),
                                               [zv], 0), closed, rtol=1e-12, atol=1e-15)


def test_elementwise_jacobians_are_diagonal_and_exact_off_the_diagonal():
    x, A = sd.vector("x"), sd.matrix("A")
    J = sd.jacobian(sd.exp(x), x)
    assert sd.pprint(J) == "diag(exp(x))"
    v = np.array([1.0, 800.0])  # exp overflows: the diagonal is inf, the rest stays 0 (not NaN)
    with np.errstate(over="ignore"):
        got = sd.function([x], J)(v)
    assert got[0, 1] == 0 and got[1, 0] == 0 and np.isinf(got[1, 1])
    assert sd.pprint(sd.jacobian(A @ sd.sin(x), x)) == "A*cos(x)"
    assert sd.pprint(sd.jacobian(sd.sigmoid(A @ x), x)) == "(t1*(1 - t1))[:, None]*A\nwhere\n  t1 = sigmoid(A @ x)"
    assert sd.pprint(sd.hessian(sd.sum(sd.sqrt(x * x + 1.0)), x)).startswith("diag(")


# --------------------------------------------------------------------------- values against oracles


def test_hessian_against_finite_differences_of_the_compiled_gradient():
    X, y, w, loss = _logistic(textbook=True)
    lam = 0.1
    cost = loss + lam / 2 * sd.sum(w**2)
    grad = sd.function([X, y, w], sd.grad(cost, w))
    H = sd.function([X, y, w], sd.hessian(cost, w))
    Xv, yv, wv = _logistic_data(n=30, p=4, seed=5)
    fd = _central_jacobian(lambda u: grad(Xv, yv, u), [wv], 0)
    np.testing.assert_allclose(H(Xv, yv, wv), fd, rtol=1e-6, atol=1e-9)


def test_hessian_with_respect_to_a_matrix_and_a_list_of_blocks():
    X, W, b = sd.matrix("X"), sd.matrix("W"), sd.vector("b")
    cost = sd.sum(sd.tanh(X @ W + b) ** 2)
    rng = np.random.default_rng(9)
    Xv, Wv, bv = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    blocks = sd.hessian(cost, [W, b])
    assert [[blk.ndim for blk in row] for row in blocks] == [[4, 3], [3, 2]]
    assert sd.pprint(blocks[1][1]).startswith("diag(sum(")  # the bias block: a diagonal, summed over rows
    f = sd.function([X, W, b], [blk for row in blocks for blk in row])
    got = f(Xv, Wv, bv)
    grad = sd.function([X, W, b], sd.grad(cost, [W, b]))
    for i, j, k in ((0, 0, 1), (0, 1, 2), (1, 0, 1), (1, 1, 2)):
        fd = _central_jacobian(lambda Wu, bu: grad(Xv, Wu, bu)[i], [Wv, bv], j)
        assert got[2 * i + j].shape == fd.shape
        np.testing.assert_allclose(got[2 * i + j], fd, rtol=1e-6, atol=1e-8, err_msg=f"block {i}{j}")
    single = sd.function([X, W, b], sd.hessian(cost, W))(Xv, Wv, bv)
    np.testing.assert_allclose(single, got[0], rtol=1e-13)


def test_jacobian_of_a_matrix_valued_expression():
    A, x = sd.matrix("A"), sd.vector("x")
    out = sd.tanh(A * x) @ sd.exp(A.T)  # (m, m)
    J = sd.jacobian(out, [A, x])
    rng = np.random.default_rng(4)
    Av, xv = rng.standard_normal((3, 2)), rng.standard_normal(2)
    got = sd.function([A, x], J)(Av, xv)
    forward = sd.function([A, x], out)
    for k in range(2):
        np.testing.assert_allclose(got[k], _central_jacobian(forward, [Av, xv], k), rtol=1e-6, atol=1e-9)


def _random_graph(rng, x, depth):
    """A random expression of the vector ``x``: unary functions, products and matrix products."""
    A = sd.constant(rng.standard_normal((3, 3)) * 0.5, name="A")
    terms = [x]
    for _ in range(depth):
        a = terms[rng.integers(len(terms))]
        c = terms[rng.integers(len(terms))]
        pick = rng.integers(9)
        if pick == 0:
            new = sd.tanh(a) * c
        elif pick == 1:
            new = A @ a + c
        elif pick == 2:
            new = sd.sin(a) + sd.exp(-c * c)
        elif pick == 3:
            new = sd.softmax(a) * 3.0
        elif pick == 4:
            new = a @ A * c
        elif pick == 5:
            new = sd.sigmoid(a - c)
        elif pick == 6:
            new = sd.logsumexp(a) * c
        elif pick == 7:
            new = sd.sqrt(a * a + 1.0) / (c * c + 2.0)
        else:
            new = sd.concatenate([a[1:], c[:1]]) * a
        terms.append(new)
    return sd.sum(terms[-1] * terms[len(terms) // 2]) + sd.sum(x**3)


@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_against_finite_differences_of_backprop(seed):
    rng = np.random.default_rng(seed)
    x = sd.vector("x")
    cost = _random_graph(rng, x, depth=int(rng.integers(3, 8)))
    v = rng.standard_normal(3)
    H = _numpy_value(sd.hessian(cost, x), [x], [v])
    fd = _central_jacobian(lambda u: sd.backprop(cost, x, {x: u}), [v], 0)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    u = rng.standard_normal(3)
    hv = _numpy_value(sd.hvp(cost, x, sd.constant(u, name="u")), [x], [v])
    np.testing.assert_allclose(hv, H @ u, rtol=1e-10, atol=1e-12)


def test_random_graph_hessian_compiles():
    rng = np.random.default_rng(100)
    x = sd.vector("x")
    cost = _random_graph(rng, x, depth=7)
    v = rng.standard_normal(3)
    got = sd.function([x], sd.hessian(cost, x))(v)
    np.testing.assert_allclose(got, _numpy_value(sd.hessian(cost, x), [x], [v]), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- hvp


def test_hvp_is_two_matrix_vector_products():
    X, y, w, loss = _logistic()
    v = sd.vector("v")
    hv = sd.hvp(loss, w, v)
    text = sd.pprint(hv)
    assert text.split("\n")[0] == "X.T @ ((X @ v)*t1*(1 - t1)/N)"
    assert _no_identity(hv)
    products = [n for n in _matmuls(hv) if n.ndim]  # all matrix-vector
    assert all(n.ndim == 1 for n in products) and len(products) == 3  # X @ w, X @ v, X.T @ (...)
    Xv, yv, wv = _logistic_data()
    vv = np.random.default_rng(8).standard_normal(wv.shape)
    H = sd.function([X, y, w], sd.hessian(loss, w))(Xv, yv, wv)
    np.testing.assert_allclose(sd.function([X, y, w, v], hv)(Xv, yv, wv, vv), H @ vv, rtol=1e-12)


def test_hvp_with_lists_and_arrays():
    W, b = sd.matrix("W"), sd.vector("b")
    x = sd.constant(np.array([0.5, -1.0, 2.0]), name="x")
    cost = sd.sum(sd.tanh(x @ W + b) ** 2)
    rng = np.random.default_rng(6)
    Wv, bv = rng.standard_normal((3, 2)), rng.standard_normal(2)
    vW, vb = rng.standard_normal((3, 2)), rng.standard_normal(2)
    got = sd.function([W, b], sd.hvp(cost, [W, b], [vW, vb]))(Wv, bv)
    blocks = sd.function([W, b], [blk for row in sd.hessian(cost, [W, b]) for blk in row])(Wv, bv)
    expect_W = np.tensordot(blocks[0], vW, 2) + np.tensordot(blocks[1], vb, 1)
    expect_b = np.tensordot(blocks[2], vW, 2) + np.tensordot(blocks[3], vb, 1)
    np.testing.assert_allclose(got[0], expect_W, rtol=1e-12)
    np.testing.assert_allclose(got[1], expect_b, rtol=1e-12)
    with pytest.raises(ValueError, match="v must match wrt"):
        sd.hvp(cost, [W, b], vW)


# --------------------------------------------------------------------------- API


def test_disconnected_and_linear_costs():
    x, y = sd.vector("x"), sd.vector("y")
    with pytest.raises(ValueError, match="does not depend on 'y'"):
        sd.jacobian(sd.exp(x), y)
    with pytest.raises(ValueError, match="does not depend on 'y'"):
        sd.hessian(sd.sum(x**2), y)
    with pytest.warns(UserWarning, match="does not depend"):
        J = sd.jacobian(sd.exp(x), y, disconnected="warn")
    np.testing.assert_array_equal(sd.function([x, y], J)(np.ones(2), np.ones(3)), np.zeros((2, 3)))
    H = sd.hessian(sd.sum(x * 3.0), x)  # linear: zero Hessian, no complaint
    np.testing.assert_array_equal(sd.function([x], H)(np.ones(2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="must be a scalar"):
        sd.hessian(x, x)
    with pytest.raises(TypeError, match="wrt"):
        sd.jacobian(x, "x")


def test_jacobian_of_a_scalar_is_the_gradient_and_of_itself_the_identity():
    x = sd.vector("x")
    assert sd.pprint(sd.jacobian(sd.sum(x**2), x)) == sd.pprint(sd.grad(sd.sum(x**2), x))
    J = sd.jacobian(x, x)
    assert sd.pprint(J) == "eye(x.shape[0])"
    np.testing.assert_array_equal(sd.function([x], J)(np.ones(3)), np.eye(3))


def test_float32_hessian_stays_float32():
    x = sd.vector("x", dtype="float32")
    H = sd.hessian(sd.sum(sd.tanh(x) ** 2), x)
    assert H.dtype == "float32"
    v = np.array([0.1, -0.4], dtype=np.float32)
    got = sd.function([x], H)(v)
    assert got.dtype == np.float32
    t = np.tanh(v.astype(float))
    np.testing.assert_allclose(got, np.diag(2 * (1 - t * t) * (1 - 3 * t * t)), rtol=1e-5)


# --------------------------------------------------------------------------- check_grad and explain


def test_check_grad_checks_a_hessian_against_finite_differences_of_the_gradient():
    X, y, w, loss = _logistic(textbook=True)
    Xv, yv, wv = _logistic_data(n=25, p=4, seed=12)
    report = sd.check_grad(sd.grad(loss, w), w, {X: Xv, y: yv, w: wv})
    assert report.ok, str(report)
    check = report["w"]
    assert check.shape == (4, 4) and check.rows == 4
    s = 1 / (1 + np.exp(-Xv @ wv))
    np.testing.assert_allclose(check.grad, Xv.T @ (Xv * (s * (1 - s))[:, None]) / 25, rtol=1e-12)
    np.testing.assert_allclose(check.fd, check.grad, rtol=1e-6, atol=1e-9)
    sampled = sd.check_grad(sd.softmax(X @ w), [w, X], {X: Xv, w: wv}, sample=7, seed=2)
    assert sampled.ok and len(sampled["X"].sampled) == 7 and len(sampled["X"].sampled_rows) == 7
    assert "reverse mode on a random sample of 7 of 25 rows" in str(sampled)


def test_check_grad_flags_a_wrong_second_derivative(monkeypatch):
    from symdiff.ops import build as b
    from symdiff.ops import elementwise as ew

    x = sd.vector("x")
    gradient = sd.grad(sd.sum(sd.sigmoid(x) * x), x)  # built with the right rule
    monkeypatch.setattr(ew.Sigmoid, "vjp", lambda self, g: [b.mul(g, self)])  # now wrong: s instead of s*(1 - s)
    report = sd.check_grad(gradient, x, {x: np.array([0.3, -0.8, 1.5])})
    assert not report.ok
    assert report["x"].suspect == "grad"


def test_explain_shows_the_sweep_of_a_hessian():
    X, y, w, loss = _logistic()
    text = str(sd.explain(sd.grad(loss, w).named("g"), w))
    assert "this is the sweep of its Jacobian, seeded with the identity" in text
    assert "g_g = d g/d g = eye(X.shape[1])" in text
    assert "g_w = g5 @ X = ((X.T*t1*(1 - t1)) @ X)/N" in text
    assert "the Jacobian d g/d w" in text


def test_matrix_vector_products_sharing_a_matrix_are_paired():
    """A compiled hvp reads X once for X @ w and X @ v (rewrites/matvec.py); values unchanged,
    for any layout of X, and a product that needs the other is not paired with it."""
    X, y, w, loss = _logistic()
    v = sd.vector("v")
    f = sd.function([X, y, w, v], sd.hvp(loss, w, v))
    assert _serial_kernel(f).count("matvec_pair(") == 1
    Xv, yv, wv = _logistic_data()
    vv = np.random.default_rng(13).standard_normal(wv.shape)
    H = sd.function([X, y, w], sd.hessian(loss, w))(Xv, yv, wv)
    for layout in (Xv, np.asfortranarray(Xv), Xv[:, ::-1][:, ::-1]):
        np.testing.assert_allclose(f(layout, yv, wv, vv), H @ vv, rtol=1e-12, atol=1e-15)
    A, u = sd.matrix("A"), sd.vector("u")
    g = sd.function([A, u, v], [A @ (A @ u), A @ u, A @ v])
    Av = np.random.default_rng(14).standard_normal((5, 5))
    uv, vv = Av[0], Av[1]
    for got, want in zip(g(Av, uv, vv), [Av @ (Av @ uv), Av @ uv, Av @ vv]):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    assert _serial_kernel(g).count("matvec_pair(") == 1


def _serial_kernel(f) -> str:
    """The source of a compiled function's serial kernel (a parallel twin may follow it)."""
    return f.source.split("def kernel(")[1].split("\n@")[0]
