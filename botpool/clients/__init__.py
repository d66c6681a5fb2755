"""Thin, typed entry points to the backing services, built from settings.

Each module wraps a well-kept library (py-consul, hvac, asyncpg) and adds only
what that library lacks for botpool; redis-py needs nothing added, so it is
used directly (``botpool.wiring`` opens the admin connection). Nomad has no
maintained async client with the group scale API, so ``nomad`` is a small
httpx client (docs/hashistack.md says why python-nomad is not used).
"""
