"""``python -m bot`` runs the bot; ``python -m bot check`` checks an install without changing anything."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from dotenv import load_dotenv

from .check import preflight
from .config import ConfigError, Settings, load_settings
from .logs import Redactor, setup_logging
from .server import serve

USAGE = "usage: python -m bot [check]\n  (no argument) run the bot\n  check          verify the Slack and 3CX settings"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["check"]):
        print(USAGE, file=sys.stderr)
        return 2
    load_dotenv(".env")
    try:
        settings = load_settings(os.environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    redactor = Redactor()
    for secret in settings.secrets():
        redactor.add(secret)
    setup_logging(settings.log_level, redactor)
    if args == ["check"]:
        return 0 if asyncio.run(preflight(settings, redactor)) else 1
    asyncio.run(_run(settings, redactor))
    return 0


async def _run(settings: Settings, redactor: Redactor) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, redactor, stop)


if __name__ == "__main__":
    sys.exit(main())
