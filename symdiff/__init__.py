"""symdiff: exact derivatives of tensor models, as formulas and as compiled code."""
__version__ = "0.2.0"

from .tensor import SharedVariable, Tensor, as_tensor, constant, matrix, scalar, shared, tensor, vector
from .ops.elementwise import (abs, arccos, arcsin, arcsinh, arctan, arctanh, cast, ceil, clip, cos, cosh, exp, expm1,
                              floor, log, log1p, log2, log10, maximum, minimum, relu, sigmoid, sign, sin, sinh,
                              softplus, sqrt, square, tan, tanh, where)
from .ops.reductions import (argmax, argmin, log_softmax, logsumexp, max, mean, min, prod, softmax, std, sum, var)
from .ops.linalg import dot, matmul, outer
from .ops.shape import broadcast_to, concatenate, expand_dims, reshape, stack, transpose
from .grad import grad
from .derivatives import hessian, hvp, jacobian
from .printing import debugprint, latex, pprint
from .graphviz import draw
from .runtime.function import Function, config, function
from .runtime.cache import cache_dir, clear_cache
from .codegen.emit import LoweringError
from .ops.indexing import arange, onehot, take
from .checking.backprop import backprop
from .checking.check_grad import check_grad
from .checking.explain import explain

# Load the compiled helpers every kernel calls (vectorised math, BLAS) now, so
# that compiling a function pays only for its own kernel.
from .codegen import blas as _blas, fastmath as _fastmath, support as _support  # noqa: E402,F401
