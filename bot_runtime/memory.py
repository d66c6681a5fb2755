"""A slot's own memory: how big it is now, and giving freed memory back to the system.

A slot that served a tenant is bigger than a fresh one: the tenant's connection pools, buffers
and the Bot API validators its bot built stay in the heap after the bot stops, and
CPython and glibc keep freed memory for reuse instead of returning it. ``trim`` returns what
can be returned (a full collection, then glibc's ``malloc_trim``); ``rss_mb`` says what is left,
which decides whether the slot starts afresh (``Slot``, ``SLOT_RECYCLE_GROWTH_MB``).

Read from ``/proc/self/statm`` rather than through psutil: one small file read, no import in a
process that must stay light.
"""

from __future__ import annotations

import ctypes
import gc
import os

#: Bytes per page, to turn statm's page counts into bytes.
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
#: glibc's ``malloc_trim``, looked up once among the symbols the process already has (musl has none).
_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)


def rss_mb() -> float:
    """This process's resident memory in MB (what the node pays for it)."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * PAGE_SIZE / 2**20


def trim() -> None:
    """Collect garbage and hand the heap's free pages back to the system (glibc only; elsewhere a no-op)."""
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
