"""Graph work without CPython's cyclic garbage collector.

Building, differentiating, printing and compiling a graph allocate many
objects that live on.  Each allocation burst triggers collections that rescan
the whole heap, SymPy's and Numba's objects included, so on large models the
collector's time grew faster than the graph (grad of a 500-input product took
4x its 250-input time).  Graph objects hold no reference cycles, so pausing the
collector during that work loses nothing: reference counting still frees
whatever becomes unused, and the collector runs again afterwards.
"""
from __future__ import annotations

import functools
import gc


def without_cyclic_gc(fn):
    """``fn`` with the cyclic collector paused while it runs (re-enabled after, if it was on)."""

    @functools.wraps(fn)
    def paused(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused
