"""``njit``: numba's ``njit(cache=True)``, plus a guard against stale caches.

Numba keys a cached kernel on its own file only: when a kernel calls a kernel from another
module and that module changes, the caller's cache is silently stale (numba issue #6845). At
import we fingerprint every ``*_nb.py`` source of this package and, when the fingerprint differs
from the one recorded beside the cache, delete this package's cached kernels first.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numba

_PKG = Path(__file__).resolve().parent


def guard_cache(cache_dir: Path, sources: Iterable[Path], prefix: str = "") -> None:
    """Delete numba's cached kernels in ``cache_dir`` (files starting with ``prefix``) unless
    the fingerprint of ``sources`` (and numba's version) is the one recorded there. O(sources)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(numba.__version__.encode())
    for src in sources:
        h.update(src.name.encode())
        h.update(src.read_bytes())
    stamp = cache_dir / f"{prefix or 'nb'}-fingerprint"
    digest = h.hexdigest()
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return
        for f in [*cache_dir.glob(f"{prefix}*.nbi"), *cache_dir.glob(f"{prefix}*.nbc")]:
            f.unlink(missing_ok=True)
        cache_dir.mkdir(exist_ok=True)
        tmp = stamp.with_suffix(f".{os.getpid()}")
        tmp.write_text(digest)
        tmp.replace(stamp)
    except OSError:
        # read-only install: numba falls back to its own cache locations; nothing to guard
        pass


guard_cache(_PKG / "__pycache__", sorted(_PKG.glob("*_nb.py")))


def njit(fn):
    """Compile ``fn`` in nopython mode, cached on disk, with no fastmath (exact integers)."""
    return numba.njit(cache=True, nogil=True)(fn)


def njit_inline(fn):
    """``njit`` inlined at numba IR level into every caller: for tiny accessors."""
    return numba.njit(cache=True, nogil=True, inline="always")(fn)
