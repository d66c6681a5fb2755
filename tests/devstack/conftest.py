"""A stack of the module's own for the tests that restart or kill parts of it, so no other test sees the faults."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.stack import Stack


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    """A throwaway stack tied to this run, removed with its data after the module."""
    root = Path(tempfile.mkdtemp(prefix="botpool-restart-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must traverse it
    stack = Stack(root, random_ports=True, tied=True)
    try:
        stack.up(timeout=180)
        yield stack
    finally:
        stack.reset()
