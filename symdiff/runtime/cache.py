"""Disk cache of generated kernels.

A kernel's source is written once to ``<cache dir>/k<hash>.py``, named by a
hash of the source (which encodes the whole graph) and of the versions that
shape the machine code; Numba's own cache (``cache=True``) keeps the compiled
code beside it, so a second process loads it instead of compiling again.

The directory is ``$SYMDIFF_CACHE_DIR`` if set, else ``~/.cache/symdiff``;
deleting it is always safe.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

import numba
import numpy as np

_VERSION_SALT = f"numba {numba.__version__} numpy {np.__version__} py {sys.version_info[:2]}"


def cache_dir() -> Path:
    """Where kernels are kept (created on first use): ``$SYMDIFF_CACHE_DIR``, else
    ``~/.cache/symdiff``.

    >>> sd.cache_dir().is_dir()
    True
    """
    path = Path(os.environ.get("SYMDIFF_CACHE_DIR") or Path.home() / ".cache" / "symdiff")
    path.mkdir(parents=True, exist_ok=True)
    return path


def clear_cache() -> None:
    """Delete every cached kernel (source and compiled code); functions already
    built keep working, new ones compile again.

    >>> sd.clear_cache()
    >>> list(sd.cache_dir().iterdir())
    []
    """
    import shutil

    shutil.rmtree(cache_dir(), ignore_errors=True)


def source_digest(source: str) -> str:
    """The name of a kernel module: a hash of its source and of what shapes its machine code."""
    return hashlib.sha256((_VERSION_SALT + "\n" + _support_digest() + "\n" + source).encode()).hexdigest()[:24]


def load_kernel_module(source: str) -> ModuleType:
    """Import the module holding ``source`` from the cache, writing it there first if new."""
    digest = source_digest(source)
    with _LOAD_LOCK:  # two threads building the same graph must share one module (one dispatcher)
        if f"symdiff_kernel_{digest}" not in sys.modules:
            path = cache_dir() / f"k{digest}.py"
            if not path.exists():
                fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
                with os.fdopen(fd, "w") as f:
                    f.write(source)
                os.replace(tmp, path)  # atomic: a concurrent reader sees all or nothing
        return _import(digest)


def load_piece(digest: str):
    """The ``piece`` function of the cached module ``digest`` (written by :func:`load_kernel_module`)."""
    with _LOAD_LOCK:
        return _import(digest).piece


_LOAD_LOCK = threading.RLock()


def _import(digest: str) -> ModuleType:
    module_name = f"symdiff_kernel_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = cache_dir() / f"k{digest}.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[module_name] = module
    return module


_SUPPORT_DIGEST = None


def _support_digest() -> str:
    """Hash of the helper modules kernels call into: a change there must not reuse old kernels."""
    global _SUPPORT_DIGEST
    if _SUPPORT_DIGEST is None:
        here = Path(__file__).resolve().parent.parent / "codegen"
        h = hashlib.sha256()
        for name in ("fastmath.py", "blas.py", "support.py"):
            h.update((here / name).read_bytes())
        _SUPPORT_DIGEST = h.hexdigest()
    return _SUPPORT_DIGEST
