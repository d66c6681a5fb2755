"""Describe the machine a benchmark ran on, so its numbers are never read without their context."""

from __future__ import annotations

import os
import platform
from typing import Any

import psutil


def describe() -> dict[str, Any]:
    """CPU model, core count, memory and Python version."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
