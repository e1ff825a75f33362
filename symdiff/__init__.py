"""symdiff: exact derivatives of tensor models, as formulas and as compiled code."""
__version__ = "0.1.0"

from .grad import grad
from .ops import (abs, arcsin, arctan, clip, concatenate, cos, cosh, dot, exp, expm1, log, log1p, log_softmax,
                  logsumexp, matmul, max, maximum, mean, min, minimum, outer, prod, relu, reshape, sigmoid, sin,
                  sinh, softmax, softplus, sqrt, square, stack, sum, tan, tanh, transpose, where)
from .tensor import SharedVariable, Tensor, Variable, constant, matrix, scalar, shared, tensor, vector
from .printing import debugprint, latex, pprint
from .runtime.function import Function, function
from .runtime.cache import cache_dir, clear_cache
from .codegen.lower import LoweringError, config
from .checking.backprop import backprop
from .checking.check_grad import check_grad
from .checking.explain import explain

# Load the compiled helpers every kernel calls (vectorised math, BLAS) now, so
# that compiling a function pays only for its own kernel.
from .codegen import blas as _blas, fastmath as _fastmath, support as _support  # noqa: E402,F401
