"""Local stand-ins for external services (Telegram, payment providers) that this machine cannot reach."""
