"""Tests of the tenant booking bot (real PostgreSQL, Redis and the Telegram stand-in)."""
