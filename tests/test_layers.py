"""The domain stands on its own: it imports neither Slack nor aiohttp."""

from __future__ import annotations

import subprocess
import sys


def test_the_domain_imports_neither_slack_nor_aiohttp() -> None:
    code = (
        "import sys, bot.unblock, bot.lookup, bot.policy, bot.storage, bot.storage.rows, bot.storage.sqlite,"
        " bot.command_text;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'slack_bolt', 'slack_sdk')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
