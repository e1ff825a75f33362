"""The plan of a kernel is data (issue 8, point 2).

``symdiff.codegen.plan.make_plan`` (and ``f.plan`` of a compiled function)
says, before any code is emitted, which values share a loop nest, which
reductions close a nest, which update values are written in place, which
outputs and values are copied, and which nests run with ``prange``.  These
tests read those decisions for the two-layer network's training step and
for updates through views and swaps.
"""
import numpy as np
import pytest

import symdiff as sd
from seed_network import build_network
from symdiff.codegen.plan import LoopNest, Plan, ScalarStep, TensorStep, make_plan
from symdiff.ops.elementwise import Elementwise
from symdiff.ops.reductions import Reduce

LR = 0.5


@pytest.fixture(scope="module")
def network():
    X, y, params, yp, loss = build_network()
    grads = sd.grad(loss, params)
    updates = [(p, p - LR * g) for p, g in zip(params, grads)]
    step = sd.function([X, y], loss, updates=updates)
    return X, y, params, yp, loss, updates, step


def _nests(plan: Plan) -> list:
    return [s for s in plan.steps if isinstance(s, LoopNest)]


def _names(plan: Plan, ids) -> set:
    return {v.name for v in ids.values()} if isinstance(ids, dict) else ids


def _plan_of(outputs, updates, inputs, parallel_threshold=0) -> Plan:
    """A plan straight from the user's graph: no rewriting, no code."""
    return make_plan([o.node for o in outputs], [(var.node, value.node) for var, value in updates],
                     [i.node for i in inputs], parallel_threshold)


def _materialised_reads(node, plan: Plan) -> list:
    """The materialised values ``node``'s own loop code reads (seen through inlined elementwise ops)."""
    chosen = {id(m) for m in plan.materialised}
    found, stack, seen = [], list(node.inputs), set()
    while stack:
        c = stack.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        if id(c) in chosen:
            found.append(c)
        elif isinstance(c, Elementwise):
            stack.extend(c.inputs)
    return found


# ----------------------------------------------------------------- the training step


def test_the_plan_holds_every_decision_as_data(network):
    *_, step = network
    plan = step.plan
    assert isinstance(plan, Plan)
    assert all(isinstance(s, (LoopNest, TensorStep, ScalarStep)) for s in plan.steps)
    assert [v.name for v in plan.inputs] == ["X", "y"]
    assert {v.name for v in plan.shared} == {"w0", "b0", "w1", "b1"}


def test_the_training_step_runs_in_seven_loop_nests(network):
    *_, step = network
    nests = _nests(step.plan)
    # matrix products split the step into the hidden layer, the output layer with the loss and the
    # output delta, the hidden delta, and four updates of four different shapes: no fewer can exist
    assert len(nests) == 7
    assert sorted(sum(isinstance(m, Reduce) for m in n.members) for n in nests) == [0, 0, 0, 0, 0, 1, 2]
    for s in step.plan.steps:  # no elementwise array is computed outside a nest
        if not isinstance(s, LoopNest):
            assert not (isinstance(s.node, Elementwise) and s.node.shape)


def test_reductions_share_the_nest_of_the_region_they_close(network):
    *_, step = network
    plan = step.plan
    nest_of = {id(m): n for n in _nests(plan) for m in n.members}
    reductions = [m for m in plan.materialised if isinstance(m, Reduce) and m.axes]
    assert len(reductions) == 3  # the loss, and the bias gradients of both layers
    for r in reductions:
        assert id(r) in nest_of, "a reduction over a fused region runs in its own loop"
        for source in _materialised_reads(r, plan):
            if isinstance(source, Elementwise) and id(source) in nest_of and plan.facts.same_shape(source.shape, r.x.shape):
                assert nest_of[id(source)] is nest_of[id(r)]
    loss_sum = plan.outputs[0].inputs[0]  # the loss is sum(...) / N
    assert isinstance(loss_sum, Reduce)
    # computed in the loop that computes the output layer's values (yp, inline there) and its adjoint
    assert any(not isinstance(m, Reduce) for m in nest_of[id(loss_sum)].members)


def test_every_update_of_the_training_step_is_written_in_place(network):
    *_, step = network
    assert _names(step.plan, step.plan.in_place) == {"w0", "b0", "w1", "b1"}
    assert step.plan.copied == set()  # the loss is a new value, no copy
    assert "np.copy" not in step.source


def test_an_output_that_is_a_parameter_is_copied_and_its_update_not_in_place(network):
    X, y, params, yp, loss, updates, _ = network
    w0, b0, w1, b1 = params
    plan = _plan_of([loss, w1, yp, w0.T], updates, [X, y])
    copied = {k for k, o in enumerate(plan.outputs) if id(o) in plan.copied}
    assert copied == {1, 3}  # w1 and w0.T: the values from before the call
    assert _names(plan, plan.in_place) == {"b0", "b1"}
    assert len(_nests(plan)) == 7


def test_parallel_loops_are_planned_only_above_a_threshold(network):
    X, y, params, yp, loss, updates, step = network
    assert not any(n.parallel for n in _nests(_plan_of([loss], updates, [X, y], parallel_threshold=0)))
    parallel = [n for n in _nests(step.plan) if n.parallel]
    assert len(parallel) <= 4  # Numba's parallel passes cost compile time per loop
    assert ("prange" in step.source) == bool(parallel)
    x = sd.vector("x")
    big = _plan_of([sd.exp(x) * 2 + sd.sin(x)], [], [x], parallel_threshold=1000)
    assert [n.parallel for n in _nests(big)] == [True]


# ----------------------------------------------------------------- views and swaps


def _in_place_names(outputs, updates, inputs=()) -> set:
    return _names(None, _plan_of(outputs, updates, inputs).in_place)


def test_a_transpose_of_itself_is_copied_before_it_is_written():
    M = sd.shared(np.zeros((3, 3)), name="M")
    value = M.T
    plan = _plan_of([], [(M, value)], [])
    assert id(plan.updates[0][1]) in plan.copied
    assert plan.in_place == {}


def test_a_swap_copies_both_values():
    a = sd.shared(np.zeros(2), name="a")
    b = sd.shared(np.zeros(2), name="b")
    plan = _plan_of([], [(a, b), (b, a)], [])
    assert {id(v) for _, v in plan.updates} <= plan.copied
    assert plan.in_place == {}


@pytest.mark.parametrize("make_value", [
    lambda v: v[::-1] * 10,
    lambda v: (v + v[::-1]) / 2,
    lambda v: v * v.reshape((2, 2)).T.reshape((4,)),
], ids=["v[::-1]*10", "(v + v[::-1])/2", "v * v.reshape((2, 2)).T.reshape((4,))"])
def test_a_value_reading_its_variable_through_a_view_is_not_written_in_place(make_value):
    v = sd.shared(np.zeros(4), name="v")
    assert _in_place_names([], [(v, make_value(v))]) == set()


def test_a_value_reading_a_copy_of_its_variable_is_written_in_place():
    v = sd.shared(np.zeros(4), name="v")
    plan = _plan_of([], [(v, sd.concatenate([v[1:], v[:1]]) + v)], [])
    assert _names(plan, plan.in_place) == {"v"}  # the concatenation is a new array, computed first
    assert isinstance(plan.steps[0], TensorStep)


def test_symmetrising_is_not_written_in_place():
    W = sd.shared(np.zeros((3, 3)), name="W")
    assert _in_place_names([], [(W, (W + W.T) / 2)]) == set()


def test_plain_elementwise_steps_are_written_in_place():
    x = sd.vector("x")
    w = sd.shared(np.zeros(3), name="w")
    assert _in_place_names([], [(w, w - 0.1 * x)], [x]) == {"w"}
    loss = sd.sum((w * x) ** 2)  # the loss reads w[i] in the same loop, before w[i] is written
    assert _in_place_names([loss], [(w, w - 0.1 * sd.grad(loss, w))], [x]) == {"w"}


def test_an_output_of_the_updated_variable_is_copied_and_blocks_the_in_place_write():
    M = sd.shared(np.zeros((2, 3)), name="M")
    plan = _plan_of([M, M[0]], [(M, M * 2)], [])
    assert all(id(o) in plan.copied for o in plan.outputs)
    assert plan.in_place == {}
