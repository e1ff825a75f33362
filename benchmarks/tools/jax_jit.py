"""JAX, float64, every step under jax.jit; the W1 loop is lax.fori_loop under jit.

Parameters are updated functionally (the Case keeps the newest pytree).
The persistent compilation cache is used when JAX_COMPILATION_CACHE_DIR is set.
"""

import functools

import jax
import jax.numpy as jnp

from benchmarks import workloads as wl
from benchmarks.tools import Case

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

COMPILES = True
VERSION = jax.__version__


def _sgd(loss_fn, lr):
    @jax.jit
    def step(params, *inputs):
        loss, grads = jax.value_and_grad(loss_fn)(params, *inputs)
        return loss, [p - lr * g for p, g in zip(params, grads)]

    return step


def _stateful(step, params, inputs, loop=None):
    state = {"p": [jnp.asarray(p) for p in params]}
    inputs = [jnp.asarray(a) for a in inputs]

    def run():
        loss, state["p"] = step(state["p"], *inputs)
        return jax.block_until_ready(loss)

    def run_loop(steps):
        state["p"] = jax.block_until_ready(loop(steps, state["p"], *inputs))

    return Case(run=run, state=lambda: state["p"], loop=run_loop if loop else None)


def _w1_loss(params, X, y):
    w0, b0, w1, b1 = params
    h = jax.nn.sigmoid(X @ w0 + b0)
    yp = jax.nn.sigmoid(h @ w1 + b1)
    return jnp.mean(0.5 * (yp - y) ** 2)


def w1(d):
    step = _sgd(_w1_loss, wl.LR_W1)

    @functools.partial(jax.jit, static_argnums=0)
    def loop(steps, params, X, y):
        return jax.lax.fori_loop(0, steps, lambda i, p: step(p, X, y)[1], params)

    return _stateful(step, d["params"], [d["X"], d["y"]], loop)


def _w2_loss(params, X, T):
    W1, b1, W2, b2 = params
    logits = jnp.tanh(X @ W1 + b1) @ W2 + b2
    return jnp.mean(-jnp.sum(T * jax.nn.log_softmax(logits, axis=1), axis=1))


def w2(d):
    return _stateful(_sgd(_w2_loss, wl.LR_W2), d["params"], [d["X"], d["T"]])


def _w3_loss(w, X, y):
    s = jax.nn.sigmoid(X @ w)
    return jnp.mean(-y * jnp.log(s) - (1 - y) * jnp.log(1 - s))


def w3(d):
    hessian = jax.jit(jax.hessian(_w3_loss))
    X, y, w = (jnp.asarray(d[k]) for k in ("X", "y", "w"))
    return Case(run=lambda: jax.block_until_ready(hessian(w, X, y)))


def w3_hvp(d):
    @jax.jit
    def hvp(w, v, X, y):  # forward over reverse
        return jax.jvp(lambda u: jax.grad(_w3_loss)(u, X, y), (w,), (v,))[1]

    X, y, w, v = (jnp.asarray(d[k]) for k in ("X", "y", "w", "v"))
    return Case(run=lambda: jax.block_until_ready(hvp(w, v, X, y)))


def w4(d):
    grad = jax.jit(jax.grad(lambda x: jnp.sum(jnp.tanh(x) * jnp.exp(-x**2) + jnp.log1p(x**2))))
    x = jnp.asarray(d["x"])
    return Case(run=lambda: jax.block_until_ready(grad(x)))
