"""The intermediate representation: SymPy trees over tensor-valued symbols.

Elementwise algebra is SymPy's own (``Add``, ``Mul``, ``exp``, ...); everything
else is a node class in :mod:`symdiff.graph.nodes`.  Types (shape and dtype)
are inferred from the tree by :mod:`symdiff.graph.types`.
"""
