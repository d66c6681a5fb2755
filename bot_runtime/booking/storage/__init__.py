"""asyncpg repositories over the tenant's schema; the only code that writes SQL."""
