"""``unblock-bot`` (or ``python -m bot``) runs the bot; ``unblock-bot check`` checks an install without
changing anything."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from .config import ConfigError, Settings, load_settings, read_environment
from .logs import Redactor, setup_logging
from .metrics import installed_version
from .storage.database import StoreUnavailable

#: variables that Bolt and slack_sdk read on their own when they are set (tokens, OAuth); the bot reads its
#: settings once, so they are taken out of the process environment before any Slack object is built
READ_BEHIND_OUR_BACK = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_SCOPES",
    "SLACK_USER_SCOPES",
    "SLACK_VERIFICATION_TOKEN",
    "SLACK_INSTALLATION_URL",
    "SLACK_REDIRECT_URI",
    "SLACK_STATE_S3_BUCKET_NAME",
    "SLACK_INSTALLATION_S3_BUCKET_NAME",
)


def arguments(argv: list[str]) -> argparse.Namespace:
    # how the bot was started, for its help: ``python -m bot`` or the script's name
    name = Path(sys.argv[0]).name
    parser = argparse.ArgumentParser(
        prog="python -m bot" if name == "__main__.py" else name or "unblock-bot",
        # the command first, as people type it (argparse would put the options first)
        usage="%(prog)s [-h] [{run,check}] [PBX] [--version]",
        description="A Slack bot that removes entries from a 3CX blocklist once an approver says yes. "
        "Settings come from the environment or from a .env file in the working directory (see .env.example).",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=("run", "check"),
        default="run",
        help="run: serve Slack (the default); check: verify the Slack and 3CX settings, changing nothing",
    )
    parser.add_argument("pbx", nargs="?", metavar="PBX", help="check: only the PBX of this name (UNBLOCK_PBXES)")
    parser.add_argument(
        "--version", action="version", version=f"unblock-bot {installed_version()}", help="print the version and exit"
    )
    parsed = parser.parse_args(argv)
    if parsed.pbx is not None and parsed.command != "check":
        parser.error(f"a PBX's name ({parsed.pbx!r}) goes with check only: {parser.prog} check {parsed.pbx}")
    return parsed


def main(argv: list[str] | None = None) -> int:
    given = arguments(sys.argv[1:] if argv is None else argv)
    command = given.command
    environment, origins = read_environment()
    try:
        settings = load_settings(environment, origins)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    for name in READ_BEHIND_OUR_BACK:
        os.environ.pop(name, None)
    redactor = Redactor(settings.secrets())
    # check speaks to a person on stdout: only warnings are logged (on stderr) unless LOG_LEVEL says more
    quiet = command == "check" and "LOG_LEVEL" not in environment
    setup_logging("WARNING" if quiet else settings.log_level, redactor)
    # Bolt, slack_sdk and aiohttp only now, with good settings: --version and a settings problem answer at once
    from .app import StartupError
    from .check import UnknownPbx, chosen, preflight

    try:
        if command == "check":
            return 0 if asyncio.run(preflight(settings, redactor, pbxes=chosen(settings, given.pbx))) else 1
        asyncio.run(_run(settings, redactor))
    except UnknownPbx as error:
        print(error, file=sys.stderr)
        return 2
    except (StoreUnavailable, StartupError) as error:
        print(f"unblock-bot cannot start: {error}", file=sys.stderr)
        return 1
    return 0


async def _run(settings: Settings, redactor: Redactor) -> None:
    from .server import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, redactor, stop)


if __name__ == "__main__":
    sys.exit(main())
