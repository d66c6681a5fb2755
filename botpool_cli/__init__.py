"""The ``botpool`` command for operators and developers: local stack, pool status, tenants, scaling."""
