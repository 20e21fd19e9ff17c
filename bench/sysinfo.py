"""The machine a benchmark ran on, for its JSON record and its summary line."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def publish(
    result: dict[str, Any],
    name: str,
    *,
    write: bool,
    as_json: bool,
    default: Callable[[Any], Any] | None = None,
    indent: str = "  ",
) -> None:
    """Every benchmark's ending: write ``result`` to ``bench/results/NAME.json`` (unless not
    ``write``) and say where; with ``as_json``, print it as one JSON line, the last. O(size)."""
    if write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{name}.json"
        path.write_text(json.dumps(result, indent=2, default=default) + "\n")
        print(f"{indent}written: {path}")
    if as_json:
        print(json.dumps(result, default=default), flush=True)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_info() -> dict[str, Any]:
    """CPU model (from /proc/cpuinfo), core counts, memory, load and software versions. O(1)."""
    import llvmlite
    import numba
    import numpy as np

    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gb": _mem_total_gb(),
        "load_avg": load,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "platform": platform.platform(),
    }


def describe(info: dict[str, Any]) -> str:
    """One line: cpu, cores, memory, software."""
    mem = f", {info['memory_gb']} GB" if info.get("memory_gb") else ""
    load = f", load {info['load_avg'][0]}" if info.get("load_avg") else ""
    return (
        f"{info['cpu']}, {info['cores']} cores{mem}{load}; {info['python']}, "
        f"numpy {info['numpy']}, numba {info['numba']}; {info['platform']}"
    )
