"""Fixtures for the security tests: what a slot is told (no credentials), from the pool tests."""

from tests.pool.conftest import slot_env  # noqa: F401 - a fixture, used by name
