"""Fixtures for the security tests, from the pool tests: what a slot is told (no credentials), a real reconciler."""

from tests.pool.conftest import control_env, reconciler, slot_env  # noqa: F401 - fixtures, used by name
