"""``python -m sales_bot [--env-file PATH]``: load the settings (one line and exit 2 if they are wrong), serve.

``--env-file`` names a file of ``KEY=VALUE`` lines (secrets the local stack keeps out of the job spec
and argv); values already in the environment win.
"""

from __future__ import annotations

import argparse

from botpool import lazytypes

lazytypes.import_types()  # before the app's modules import aiogram's types: a faster start, less memory

from dotenv import load_dotenv  # noqa: E402

from botpool import logs, wiring  # noqa: E402
from sales_bot.app import SalesSettings, run  # noqa: E402


def main() -> None:
    """Start the sales bot."""
    parser = argparse.ArgumentParser(prog="sales_bot", description="The botpool sales bot.")
    parser.add_argument("--env-file", help="a file of KEY=VALUE settings (kept out of argv and job specs)")
    args = parser.parse_args()
    if args.env_file:
        load_dotenv(args.env_file, override=False)
    with wiring.exit_on_error("sales_bot"):
        settings = SalesSettings.load()
        logs.setup("sales_bot", level=settings.sales.log_level)
        wiring.run(run(settings))


if __name__ == "__main__":
    main()
