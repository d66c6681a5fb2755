"""Test configuration: real services only (see tests/fixtures); Telegram and YooKassa are local stand-ins."""

pytest_plugins = ["tests.fixtures.stack", "tests.fixtures.telegram", "tests.fixtures.yookassa"]
