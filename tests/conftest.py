"""Test configuration: real services only (see tests/fixtures); Telegram and YooKassa are local stand-ins."""

# The bots under test build aiogram's validators on first use, as the slots do (botpool/lazytypes.py),
# so every in-process test also checks that nothing depends on them being built at import.
from botpool import lazytypes

lazytypes.import_types()

pytest_plugins = ["tests.fixtures.stack", "tests.fixtures.telegram", "tests.fixtures.yookassa"]
