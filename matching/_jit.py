"""``njit``: numba's ``njit(cache=True)``, plus a guard against stale caches.

Numba keys a cached kernel on its own file only: when a kernel calls a kernel from another
module and that module changes, the caller's cache is silently stale (numba issue #6845). At
import we fingerprint every ``*_nb.py`` source of this package and, when the fingerprint differs
from the one recorded beside the cache, delete this package's cached kernels first.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_PKG = Path(__file__).resolve().parent


def _guard_cache() -> None:
    h = hashlib.blake2b(digest_size=16)
    h.update(numba.__version__.encode())
    for src in sorted(_PKG.glob("*_nb.py")):
        h.update(src.name.encode())
        h.update(src.read_bytes())
    stamp_dir = _PKG / "__pycache__"
    stamp = stamp_dir / "nb-fingerprint"
    digest = h.hexdigest()
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return
        for f in list(stamp_dir.glob("*.nbi")) + list(stamp_dir.glob("*.nbc")):
            f.unlink(missing_ok=True)
        stamp_dir.mkdir(exist_ok=True)
        tmp = stamp.with_suffix(f".{os.getpid()}")
        tmp.write_text(digest)
        tmp.replace(stamp)
    except OSError:
        # read-only install: numba falls back to its own cache locations; nothing to guard
        pass


_guard_cache()


def njit(fn):
    """Compile ``fn`` in nopython mode, cached on disk, with no fastmath (exact integers)."""
    return numba.njit(cache=True, nogil=True)(fn)


def njit_inline(fn):
    """``njit`` inlined at numba IR level into every caller: for tiny accessors."""
    return numba.njit(cache=True, nogil=True, inline="always")(fn)
