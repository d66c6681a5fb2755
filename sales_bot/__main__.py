"""``python -m sales_bot``: load the settings (one line and exit 2 if they are wrong), then serve."""

from __future__ import annotations

import asyncio

from botpool import logs, wiring
from sales_bot.app import SalesSettings, run


def main() -> None:
    """Start the sales bot."""
    with wiring.exit_on_configuration_error("sales_bot"):
        settings = SalesSettings.load()
        logs.setup("sales_bot", level=settings.sales.log_level)
        asyncio.run(run(settings))


if __name__ == "__main__":
    main()
