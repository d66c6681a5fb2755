"""The tenant's booking bot: placeholder until the dispatcher is written."""

from botpool.db import migrations

MIGRATIONS = migrations.load("bot_runtime.booking")
