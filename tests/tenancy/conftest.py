"""Fixtures for the tenancy tests: the shared activator (real Vault policy, PostgreSQL, Redis) from the pool tests."""

from tests.pool.conftest import activator, activator_token, root_vault  # noqa: F401 - fixtures, used by name
