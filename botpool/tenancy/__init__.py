"""Tenancy: what a tenant is (control schema), what it owns (schema, role, Redis user), how it is activated."""
