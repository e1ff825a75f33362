"""Local simplification of gradients to the forms a textbook writes.

:func:`symdiff.grad` runs this on every gradient after differentiation.  It is
local and bounded, never a global ``simplify``:

* one memoised bottom-up pass over the distinct nodes, where each rule looks
  at a node and its operands a fixed depth down (:func:`_rules`): arithmetic
  folded through :mod:`symdiff.ops.build`; gradients of ``where``,
  ``maximum``, ``minimum``, ``clip`` gathered into one ``where(cond, a, b)``;
  a scalar broadcast by the adjoint of a reduction read as the scalar; a
  matrix-vector product's adjoint written with the vector (``X.T @ g``); the
  softmax cross-entropy adjoint ``softmax(Z)*sum(c*T) - c*T`` with its
  row-constant factor ``c`` taken out and, when the rows of ``T`` are known to
  sum to 1 (``onehot``, a gather at ``[arange(N), labels]``), written
  ``softmax(Z) - T``;
* SymPy on small elementwise regions (at most :data:`REGION_LIMIT` nodes, cut
  at shared, named and tensor-op nodes), and only on regions holding both
  ``sigmoid(u)`` and ``sigmoid(-u)``: with ``sigmoid(-u) = 1 - sigmoid(u)``
  the region is put over a common denominator (``cancel``) and common factors
  taken out (``factor_terms``), which turns the derivative of binary
  cross-entropy into ``(sigmoid(z) - y)/N``.  The result is kept only when it
  is smaller and every ``sigmoid(u)`` in it stands alone in a sum
  (``sigmoid(u) - B``), a form the compiler evaluates without cancellation
  (:mod:`symdiff.rewrites.lowering`);
* nodes equal to a named node of the cost's graph print as that name.

Every rule is an identity of real arithmetic (exact on finite values; with
inf in the data a factored form can differ, e.g. ``inf - inf`` against
``inf*(1 - 1)``), types never change, and the whole pass is linear in the size
of the gradient.
"""
from __future__ import annotations

import sympy as sp

from ..graph import functions as sfn
from ..graph.cse import structural_key
from ..graph.node import Constant, Node, Size
from ..graph.sizes import SizeFacts, assumed_facts, sizes_equal
from ..graph.types import FLOAT_DTYPES, promote
from ..graph.walk import postorder, rebuild
from ..ops import build as b
from ..ops import elementwise as ew
from ..ops.indexing import Arange, IndexAdd, Onehot
from ..ops.linalg import MatMul
from ..ops.reductions import SoftmaxMinus
from ..ops.shape import Expand, Reshape

REGION_LIMIT = 40
"""The largest elementwise region (in nodes) SymPy is given."""

_RULE_ROUNDS = 4  # rules applied to one node at most this many times in a row


def simplify_gradients(roots: list, context: tuple = ()) -> list:
    """``roots`` (gradients) simplified (see module doc); ``context``: the cost's
    graph, whose named nodes the gradients then print by name."""
    if not roots:
        return roots
    assumed = assumed_facts()  # a derivative is simplified under the facts of the graph it differentiates
    facts = SizeFacts([c for n in postorder(roots) for c in n.constraints] + (assumed.pairs() if assumed else []))
    local = rebuild(roots, lambda node, inputs: _simplify_node(node, inputs, facts))
    paired = _combine_sigmoid_pairs(local, facts)
    named = _reuse_context_names(paired, context)
    return [new if _fits(new, old, facts) else old for new, old in zip(named, roots)]


def _fits(new: Node, old: Node, facts: SizeFacts) -> bool:
    """Whether ``new`` can stand for ``old``: the same dtype, weakness and shape."""
    return (new.dtype == old.dtype and new.type.weak == old.type.weak
            and facts.same_shape(new.shape, old.shape))


# --------------------------------------------------------------------------- the local pass

_FOLD = {ew.Add: b.add, ew.Sub: b.sub, ew.Mul: b.mul, ew.Div: b.div, ew.Pow: b.pow}


def _simplify_node(node: Node, inputs: tuple, facts: SizeFacts) -> Node:
    if node.name:  # the user's own named expression stays as written
        return node.rebuild(inputs)
    fold = _FOLD.get(type(node))
    if all(a is c for a, c in zip(inputs, node.inputs)):
        new = node  # built by the folding constructors already: only the rules below can apply
    elif fold is not None:
        new = fold(*inputs)
    elif isinstance(node, ew.Neg):
        new = b.neg(inputs[0])
    else:
        new = node.rebuild(inputs)
    if new is not node and not _fits(new, node, facts):
        new = node.rebuild(inputs)
    for _ in range(_RULE_ROUNDS):
        better = _rewrite(new, facts)
        if better is None:
            break
        new = better
    return new


def _rewrite(node: Node, facts: SizeFacts) -> Node | None:
    """``node`` rewritten by the first rule whose result has its type, else ``None``."""
    for kinds, rule in _RULES:
        if isinstance(node, kinds):
            better = rule(node, facts)
            if better is not None and _fits(better, node, facts):
                return better
    return None


def _matrix_vector(node: Reshape, facts: SizeFacts) -> Node | None:
    """``reshape(A @ reshape(v, (n, 1)), (m,))`` as ``A @ v`` (and ``v @ A`` alike):
    the adjoint of a matrix-vector product, written with the vector."""
    product = node.inputs[0]
    if not isinstance(product, MatMul) or node.ndim != 1 or product.ndim != 2:
        return None
    a, c = product.inputs
    if a.ndim == 2 and isinstance(c, Reshape) and c.ndim == 2 and c.inputs[0].ndim == 1 and c.shape[1] == 1:
        return MatMul((a, c.inputs[0]))
    if c.ndim == 2 and isinstance(a, Reshape) and a.ndim == 2 and a.inputs[0].ndim == 1 and a.shape[0] == 1:
        return MatMul((a.inputs[0], c))
    return None


def _is_const(node: Node, value=None) -> bool:
    return isinstance(node, Constant) and (value is None or node.value == value)


def _scalar_inside(node: Node) -> Node | None:
    """The 0-d value ``node`` broadcasts (through reshapes and broadcasts), or ``None``.
    (A broadcast may also cast: callers check the type of what they build with it.)"""
    inner = node
    while isinstance(inner, (Expand, Reshape)):
        inner = inner.inputs[0]
    return inner if inner is not node and not inner.shape else None


def _scalar_operand(node: Node, facts: SizeFacts) -> Node | None:
    """``broadcast_to(s, shape)*x`` as ``s*x`` when ``x`` already has the result's shape."""
    x, y = node.inputs
    for k, (this, other) in enumerate(((x, y), (y, x))):
        s = _scalar_inside(this)
        if s is not None and facts.same_shape(other.shape, node.shape):
            return _FOLD[type(node)](*((s, other) if k == 0 else (other, s)))
    return None


def _cast_where(node: ew.Cast, facts: SizeFacts) -> Node | None:
    """``where(c, 1, 0).astype(t)`` as ``where(c, 1, 0)`` with constants of float dtype ``t``."""
    w = node.inputs[0]
    if node.to in FLOAT_DTYPES and isinstance(w, ew.Where) and _is_const(w.inputs[1]) and _is_const(w.inputs[2]):
        consts = [Constant((), value=k.value, const_dtype=node.to, weak=False) for k in w.inputs[1:]]
        return ew.Where((w.inputs[0], *consts))
    return None


def _tidy_where(node: ew.Where, facts: SizeFacts) -> Node | None:
    c, x, y = node.inputs
    if isinstance(c, ew.Not):  # where(~c, a, b) is where(c, b, a)
        return ew.Where((c.inputs[0], y, x))
    if x is y or (_is_const(x) and _is_const(y) and x.value == y.value and x.type == y.type):
        return x  # (kept only if the shape is the where's)
    return None


def _pull_where(node: Node, facts: SizeFacts) -> Node | None:
    """An arithmetic op on ``where(c, a, b)`` and a constant, or on two ``where`` of
    the same condition, as one ``where``, when the branches fold."""
    op = _FOLD[type(node)]
    x, y = node.inputs
    if isinstance(x, ew.Where) and isinstance(y, ew.Where) and x.inputs[0] is y.inputs[0]:
        pairs = ((x.inputs[1], y.inputs[1]), (x.inputs[2], y.inputs[2]))
        cond = x.inputs[0]
    elif isinstance(x, ew.Where) and _is_const(y):
        pairs = ((x.inputs[1], y), (x.inputs[2], y))
        cond = x.inputs[0]
    elif isinstance(y, ew.Where) and _is_const(x):
        pairs = ((x, y.inputs[1]), (x, y.inputs[2]))
        cond = y.inputs[0]
    else:
        return None
    branches = [op(p, q) for p, q in pairs]
    folded = [_is_const(r) or r is p or r is q for r, (p, q) in zip(branches, pairs)]
    zero_times = isinstance(node, (ew.Mul, ew.Div)) and any(_is_const(a, 0) for pair in pairs for a in pair)
    if all(folded) or (zero_times and any(folded)):
        return ew.Where((cond, *branches))
    return None


# --------------------------------------------------------------------------- softmax cross-entropy


def _softmax_minus(node: SoftmaxMinus, facts: SizeFacts) -> Node | None:
    x, t = node.inputs
    if node.total:
        factored = _factor_rows(t, node.axis, facts)
        if factored is not None:
            scale, op, rest = factored
            inner = SoftmaxMinus((x, rest), axis=node.axis, total=True)
            inner = _softmax_minus(inner, facts) or inner
            return op(inner, scale) if op is b.div else op(scale, inner) if scale is not None else b.neg(inner)
        if _unit_rows(t, node.axis, facts):
            if isinstance(t, IndexAdd):
                onehot = _scatter_onehot(t, facts)
                t = onehot if onehot is not None and _fits(onehot, t, facts) else t
            return SoftmaxMinus((x, t), axis=node.axis, total=False)
    return None


def _constant_along(c: Node, axis: int, ndim: int) -> bool:
    """Whether ``c`` (broadcast to ``ndim`` axes) has a single value along ``axis``."""
    k = axis - (ndim - c.ndim)
    return k < 0 or c.shape[k] == 1


def _factor_rows(t: Node, axis: int, facts: SizeFacts):
    """``(c, op, T)`` with ``t == op(c, T)`` (``op`` mul, div, or neg with ``c`` None),
    ``c`` constant along ``axis`` and ``T`` of ``t``'s shape; else ``None``.
    ``softmax(x)*sum(t) - t`` is then ``op(c, softmax(x)*sum(T) - T)``."""
    ndim = t.ndim
    if isinstance(t, ew.Neg) and facts.same_shape(t.inputs[0].shape, t.shape):
        return None, b.neg, t.inputs[0]
    if isinstance(t, (ew.Mul, ew.Div)):
        x, y = t.inputs
        candidates = ((x, y), (y, x)) if isinstance(t, ew.Mul) else ((y, x),)
        for c, rest in candidates:
            if _constant_along(c, axis, ndim) and facts.same_shape(rest.shape, t.shape) and rest.dtype == t.dtype:
                scalar = _scalar_inside(c)
                if scalar is not None and promote(scalar.type, rest.type) == promote(c.type, rest.type):
                    c = scalar
                return c, (b.mul if isinstance(t, ew.Mul) else b.div), rest
    if isinstance(t, IndexAdd):  # scatter of a broadcast scalar c: c times the scatter of ones
        g = t.inputs[0]
        c = _scalar_inside(g)
        if c is not None and _only_constants_and_sizes(c) and not _is_const(c, 1) and c.type.weak:
            ones = Expand((Constant((), value=sp.S.One, const_dtype=t.out_dtype, weak=False),), dims=g.shape)
            return c, b.mul, IndexAdd((ones,) + t.inputs[1:], axes=t.axes, dims=t.dims, out_dtype=t.out_dtype)
    return None


def _only_constants_and_sizes(node: Node, depth: int = 4) -> bool:
    """Whether ``node`` is arithmetic on constants and run-time sizes (a finite number)."""
    if isinstance(node, (Constant, Size)):
        return not isinstance(node, Constant) or node.value.is_finite
    if depth and isinstance(node, (ew.Add, ew.Sub, ew.Mul, ew.Div, ew.Neg)):
        return all(_only_constants_and_sizes(c, depth - 1) for c in node.inputs)
    return False


def _unit_rows(t: Node, axis: int, facts: SizeFacts) -> bool:
    """Whether every row of ``t`` along ``axis`` is known to sum to exactly 1."""
    if isinstance(t, Onehot):
        return axis == t.ndim - 1
    if isinstance(t, IndexAdd) and t.ndim == 2 and axis == 1 and t.axes == (0, 1):
        rows, cols = t.inputs[1:]
        ones = t.inputs[0]
        inner = _scalar_inside(ones)
        return (isinstance(rows, Arange) and sizes_equal(facts.canonical(rows.n), facts.canonical(t.dims[0]))
                and cols.ndim == 1 and inner is not None and _is_const(inner, 1))
    return False


def _scatter_onehot(node: IndexAdd, facts: SizeFacts) -> Node | None:
    """A scatter of ones at ``[arange(n), labels]`` into ``(n, k)`` zeros (the gradient
    of picking each row's label) is ``onehot(labels, k)``."""
    if _unit_rows(node, 1, facts):
        return Onehot((node.inputs[2],), k=node.dims[1], out_dtype=node.out_dtype)
    return None


_RULES = (
    ((ew.Add, ew.Sub, ew.Mul, ew.Div), _scalar_operand),
    ((ew.Add, ew.Sub, ew.Mul, ew.Div), _pull_where),
    (ew.Cast, _cast_where),
    (ew.Where, _tidy_where),
    (SoftmaxMinus, _softmax_minus),
    (Reshape, _matrix_vector),
    (IndexAdd, _scatter_onehot),
)
"""(node classes, rule): each rule gives a rewrite of a node, or ``None``."""


# --------------------------------------------------------------------------- sigmoid pairs (SymPy)

_REGION_OPS = (ew.Add, ew.Sub, ew.Mul, ew.Div, ew.Neg, ew.Pow, ew.Sigmoid)


def _in_region(node: Node) -> bool:
    if not isinstance(node, _REGION_OPS) or node.name:
        return False
    return not isinstance(node, ew.Pow) or _is_const(node.inputs[1])


def _combine_sigmoid_pairs(roots: list, facts: SizeFacts) -> list:
    """Regions with ``sigmoid(u)`` and ``sigmoid(-u)`` rewritten with SymPy (see module doc)."""
    order = postorder(roots)
    sigmoids = {id(n.x) for n in order if isinstance(n, ew.Sigmoid)}
    paired = {id(n.x.inputs[0]) for n in order
              if isinstance(n, ew.Sigmoid) and isinstance(n.x, ew.Neg) and id(n.x.inputs[0]) in sigmoids}
    if not paired:
        return roots
    consumers: dict = {}
    for n in order:
        for c in n.inputs:
            consumers.setdefault(id(c), []).append(n)
    root_ids = {id(r) for r in roots}
    region: dict = {}  # id(member) -> id(region root)
    size: dict = {}
    for n in reversed(order):
        if not _in_region(n):
            continue
        users = consumers.get(id(n), [])
        if id(n) not in root_ids and len(users) == 1 and id(users[0]) in region:
            region[id(n)] = region[id(users[0])]
        else:
            region[id(n)] = id(n)
        size[region[id(n)]] = size.get(region[id(n)], 0) + 1
    wanted = set()
    for n in order:
        if isinstance(n, ew.Sigmoid) and isinstance(n.x, ew.Neg) and id(n.x.inputs[0]) in paired:
            for user in consumers.get(id(n), []) + [n]:
                r = region.get(id(user))
                if r is not None and size[r] <= REGION_LIMIT:
                    wanted.add(r)
    new: dict = {}
    for n in order:
        inputs = tuple(new[id(c)] for c in n.inputs)
        out = None
        if id(n) in wanted:
            out = _region_rewrite(n, region, new, facts)
        new[id(n)] = out if out is not None else n.rebuild(inputs)
    return [new[id(r)] for r in roots]


class _Region:
    """One elementwise region as a SymPy expression, and the way back to nodes."""

    def __init__(self, root: Node, region: dict, new: dict):
        self.root_id = region[id(root)]
        self.region = region
        self.new = new
        self.leaves: dict = {}  # SymPy symbol -> rebuilt leaf node
        self.symbols: dict = {}  # id(old leaf) -> symbol
        self.sigmoids: dict = {}  # SymPy sigmoid(...) -> rebuilt sigmoid node
        self.pairs: set = set()  # symbols u with sigmoid(u) and sigmoid(-u)

    def member(self, node: Node) -> bool:
        return self.region.get(id(node)) == self.root_id

    def symbol(self, node: Node) -> sp.Expr:
        if isinstance(node, Constant):
            return node.value
        if id(node) not in self.symbols:
            s = sp.Dummy(positive=True) if isinstance(node, Size) else sp.Dummy(real=True)
            self.symbols[id(node)] = s
            self.leaves[s] = self.new[id(node)]
        return self.symbols[id(node)]

    def to_sympy(self, node: Node) -> sp.Expr:
        if isinstance(node, ew.Sigmoid):
            u = node.x
            arg = -self.symbol(u.inputs[0]) if isinstance(u, ew.Neg) else self.symbol(u)
            expr = sfn.sigmoid(arg)
            self.sigmoids.setdefault(expr, self.new[id(node)])
            if isinstance(u, ew.Neg):
                self.pairs.add(self.symbol(u.inputs[0]))
            return expr
        if not self.member(node):
            return self.symbol(node)
        return node.to_sympy(*(self.to_sympy(c) for c in node.inputs))

    def to_node(self, expr: sp.Expr) -> Node:
        if expr.is_Number:
            return b.const(expr)
        if expr in self.leaves:
            return self.leaves[expr]
        if isinstance(expr, sfn.sigmoid):
            if expr not in self.sigmoids:
                arg = expr.args[0]
                inner = b.neg(self.to_node(-arg)) if arg.could_extract_minus_sign() else self.to_node(arg)
                self.sigmoids[expr] = ew.Sigmoid((inner,))
            return self.sigmoids[expr]
        if expr.is_Add:
            plus = [a for a in expr.args if not a.could_extract_minus_sign()]
            minus = [-a for a in expr.args if a.could_extract_minus_sign()]
            if not plus:
                return b.neg(b.add_all([self.to_node(a) for a in minus]))
            total = b.add_all([self.to_node(a) for a in plus])
            for a in minus:
                total = b.sub(total, self.to_node(a))
            return total
        if expr.is_Mul:
            if expr.could_extract_minus_sign():
                return b.neg(self.to_node(-expr))
            num, den = sp.fraction(expr)
            if den != 1:
                return b.div(self.to_node(num), self.to_node(den))
            factors = [self.to_node(a) for a in expr.args]
            out = factors[0]
            for f in factors[1:]:
                out = b.mul(out, f)
            return out
        if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
            return b.pow(self.to_node(expr.base), b.const(expr.exp))
        if expr.is_Pow and expr.exp.is_Integer:
            return b.div(b.one(), self.to_node(expr.base ** -expr.exp))
        raise _NoForm(expr)


class _NoForm(Exception):
    """A SymPy result with no node form here."""


def _stable_sigmoids(expr: sp.Expr) -> bool:
    """Whether every ``sigmoid`` in ``expr`` stands alone in a sum (``sigmoid(u) - B``)."""
    def ok(e, parent, grandparent) -> bool:
        if isinstance(e, sfn.sigmoid):
            if parent is not None and parent.is_Add:
                return True
            return (parent is not None and parent.is_Mul and parent.args == (-1, e)
                    and grandparent is not None and grandparent.is_Add)
        return all(ok(a, e, parent) for a in e.args)

    return ok(expr, None, None)


def _region_rewrite(root: Node, region: dict, new: dict, facts: SizeFacts) -> Node | None:
    """The region of ``root`` with ``sigmoid(-u)`` as ``1 - sigmoid(u)``, cancelled and
    factored, if that is smaller and keeps every ``sigmoid`` stable; else ``None``."""
    r = _Region(root, region, new)
    expr = r.to_sympy(root)
    if not r.pairs:
        return None
    swapped = expr.xreplace({sfn.sigmoid(-u): 1 - sfn.sigmoid(u) for u in r.pairs})
    candidate = sp.factor_terms(sp.cancel(swapped))
    if sp.count_ops(candidate) >= sp.count_ops(expr) or not _stable_sigmoids(candidate):
        return None
    try:
        out = r.to_node(candidate)
    except _NoForm:
        return None
    if not _fits(out, root, facts):
        return None
    out.name = root.name
    return out


# --------------------------------------------------------------------------- names from the cost


def _reuse_context_names(roots: list, context: tuple) -> list:
    """``roots`` with nodes equal to a named node of ``context`` replaced by it."""
    named = {}
    for n in postorder(context):
        if n.name and n.inputs:
            named.setdefault(structural_key(n, tuple(id(c) for c in n.inputs), False), n)
    if not named:
        return roots

    def transform(node, inputs):
        if node.inputs and not node.name:
            found = named.get(structural_key(node, tuple(id(c) for c in inputs), False))
            if found is not None and found.type == node.type:
                return found
        return node.rebuild(inputs)

    return rebuild(roots, transform)
