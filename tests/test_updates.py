"""Updates are simultaneous even when new values are written straight into shared storage."""
import numpy as np

import symdiff as sd


def test_new_values_are_computed_from_old_values():
    a = sd.shared(np.array([1.0, 2.0]), name="a")
    b = sd.shared(np.array([10.0, 20.0]), name="b")
    f = sd.function([], [], updates=[(a, a + b), (b, a * 2.0), ])
    f()
    np.testing.assert_array_equal(a.get_value(), [11.0, 22.0])
    np.testing.assert_array_equal(b.get_value(), [2.0, 4.0])
    g = sd.function([], [], updates=[(b, a * 2.0), (a, a + b)])  # the other order
    g()
    np.testing.assert_array_equal(b.get_value(), [22.0, 44.0])
    np.testing.assert_array_equal(a.get_value(), [13.0, 26.0])


def test_swap_and_reads_after_an_in_place_write():
    a = sd.shared(np.array([1.0, 2.0]), name="a")
    b = sd.shared(np.array([3.0, 4.0]), name="b")
    total = sd.sum(a * b)
    f = sd.function([], total, updates=[(a, b), (b, a)])
    assert float(f()) == 11.0
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    w = sd.shared(np.array([[1.0, 2.0], [3.0, 4.0]]), name="w")
    x = sd.vector("x")
    h = sd.function([x], w @ x, updates=[(w, w * 0.5)])  # w is read by @ before its new value lands
    np.testing.assert_array_equal(h(np.array([1.0, 1.0])), [3.0, 7.0])
    np.testing.assert_array_equal(w.get_value(), [[0.5, 1.0], [1.5, 2.0]])
