"""Thin, typed entry points to the backing services, built from settings.

Each module wraps a well-kept library (py-consul, hvac, asyncpg, redis-py)
and adds only what that library lacks for botpool; Nomad has no maintained
async client with the group scale API, so ``nomad`` is a small httpx client.
"""
