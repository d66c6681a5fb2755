"""PostgreSQL helpers shared by every service: connection pools and schema migrations."""
