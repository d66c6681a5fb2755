"""bot_runtime."""
