"""Every op class of the package says everything about itself in one place (issue 8,
point 2): its type rule, its derivative, how it prints, how it lowers (``_numba``
for elementwise ops, ``lower`` for tensor ops, ``accumulate`` for the sum/prod/max/min
reductions the code generator fuses into their operand's loop nest), its NumPy
forward rule and its independent backprop rule, and the shared case table
(``cases.py``) exercises it.  Adding an op without one of these fails here."""
from __future__ import annotations

import pytest

from cases import CASES, graph_classes
from symdiff.checking.backprop import VJPS
from symdiff.checking.numpy_ops import FORWARD
from symdiff.graph.node import Node
from symdiff.ops.base import TensorOp
from symdiff.ops.elementwise import ELEMENTWISE_OPS, Elementwise
from symdiff.ops.indexing import INDEXING_OPS
from symdiff.ops.linalg import LINALG_OPS
from symdiff.ops.reductions import REDUCTION_OPS, Reduce
from symdiff.ops.shape import SHAPE_OPS

ALL_OPS = ELEMENTWISE_OPS + SHAPE_OPS + REDUCTION_OPS + LINALG_OPS + INDEXING_OPS
OP_IDS = [op.__name__ for op in ALL_OPS]


def _defined_below(cls: type, method: str, base: type) -> bool:
    """Whether ``cls`` gets ``method`` from a class more specific than ``base``."""
    for klass in cls.__mro__:
        if klass is base:
            return False
        if method in vars(klass):
            return True
    return False


def _missing(op: type) -> list:
    missing = [m for m in ("infer_type", "_sympystr", "_latex") if not _defined_below(op, m, Node)]
    if op.differentiable and not _defined_below(op, "vjp", Node):
        missing.append("vjp (or differentiable = False)")
    if issubclass(op, Elementwise):
        if not _defined_below(op, "_numba", Node):
            missing.append("_numba (the lowering of an elementwise op)")
    elif issubclass(op, Reduce):  # fused into its operand's loop nest: it lowers as one accumulation
        if not _defined_below(op, "accumulate", TensorOp):
            missing.append("accumulate (the lowering of a fused reduction)")
    elif issubclass(op, TensorOp):
        if not _defined_below(op, "lower", TensorOp):
            missing.append("lower (the lowering of a tensor op)")
    else:
        missing.append("a base class: Elementwise or TensorOp")
    if not any(k in FORWARD for k in op.__mro__):
        missing.append("an entry in symdiff.checking.numpy_ops.FORWARD")
    if op.differentiable and not any(k in VJPS for k in op.__mro__):
        missing.append("an entry in symdiff.checking.backprop.VJPS")
    return missing


@pytest.mark.parametrize("op", ALL_OPS, ids=OP_IDS)
def test_op_has_every_part_of_the_protocol(op):
    missing = _missing(op)
    assert not missing, f"{op.__name__} lacks: " + "; ".join(missing)


def test_the_op_tuples_have_no_duplicates():
    assert len(set(ALL_OPS)) == len(ALL_OPS)


@pytest.fixture(scope="module")
def exercised() -> dict:
    """op class -> names of the cases whose graph (or gradient graph) contains it."""
    found: dict = {}
    for case in CASES:
        try:
            classes = graph_classes(case)
        except Exception:  # noqa: BLE001 - the case's own tests report it; it exercises nothing here
            continue
        for cls in classes:
            found.setdefault(cls, []).append(case.name)
    return found


@pytest.mark.parametrize("op", ALL_OPS, ids=OP_IDS)
def test_op_is_exercised_by_a_case(op, exercised):
    assert op in exercised, f"no case in tests/cases.py builds a graph (or gradient graph) with {op.__name__}"


class _Unfinished(Elementwise):
    """An op someone started to add: a type rule and nothing else."""

    def infer_type(self):
        return self.inputs[0].type, ()


def test_the_check_catches_an_unfinished_op():
    assert _missing(_Unfinished) == [
        "_sympystr", "_latex", "vjp (or differentiable = False)", "_numba (the lowering of an elementwise op)",
        "an entry in symdiff.checking.numpy_ops.FORWARD", "an entry in symdiff.checking.backprop.VJPS",
    ]


def test_every_op_class_of_the_package_is_in_an_op_tuple():
    """An op class defined in ``symdiff.ops`` but left out of the tuples would escape every check above."""
    import inspect

    from symdiff.ops import elementwise, indexing, linalg, reductions, shape

    listed = set(ALL_OPS)
    unlisted = []
    for module in (elementwise, shape, reductions, linalg, indexing):
        for name, cls in vars(module).items():
            if not inspect.isclass(cls) or not issubclass(cls, Node) or cls.__module__ != module.__name__:
                continue
            is_base = any(issubclass(op, cls) and op is not cls for op in listed)
            if cls not in listed and not is_base:
                unlisted.append(f"{module.__name__}.{name}")
    assert not unlisted, f"op classes missing from the op tuples: {unlisted}"
