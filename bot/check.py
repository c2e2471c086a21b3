"""``python -m bot check``: does this install work? Changes nothing in Slack or 3CX.

The database is opened as the bot would open it (a new SQLite file is created, an old schema upgraded). Slack is
checked once, then each PBX (``check acme``: that one only), all at once, each in a block of lines of its own
printed whole, in the order the PBXes were written: the channels the bot posts in for it, its rules, and its 3CX
(``check_threecx``). A block is headed by the PBX's name and address when there are PBXes to tell apart (the
PBXes file); the one PBX of the ``THREECX_*`` settings has no heading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from .app import slack_unreachable
from .check_threecx import FAIL, OK, check_threecx
from .config import Settings
from .config.pbxes import PbxSettings
from .domain.allowing import duration_words
from .domain.rules import Rule
from .logs import Redactor
from .slack.failures import error_code
from .storage import urls
from .storage.contract import Store
from .storage.database import StoreUnavailable
from .storage.opening import open_store

#: the most rules the Rules line names (the others are counted)
NAMED_RULES = 10
#: whether the bot is in a channel (True or False), or the error code of Slack's refusal to say
Membership = bool | str
#: a setting of the one PBX, and the key of a ``[[pbx]]`` table of the PBXes file that says the same of its PBX
PBX_KEYS = {
    "THREECX_CLIENT_ID and THREECX_CLIENT_SECRET": "client_id and client_secret_file or client_secret_env",
    "THREECX_BASE_URL": "url",
    "THREECX_CA_BUNDLE": "ca_bundle",
    "UNBLOCK_WATCH_CHANNEL": "watch_channel",
    "UNBLOCK_APPROVAL_CHANNEL": "approval_channel",
}


class UnknownPbx(Exception):
    """``check <name>`` named no PBX the bot serves."""


def chosen(settings: Settings, name: str | None) -> tuple[PbxSettings, ...]:
    """The PBXes ``check`` checks: every one, or the one called ``name``.

    Raises:
        UnknownPbx: no PBX is called ``name``; its message lists the names there are.
    """
    if name is None:
        return settings.pbxes
    found = tuple(pbx for pbx in settings.pbxes if pbx.name == name)
    if found:
        return found
    names = [pbx.name for pbx in settings.pbxes if pbx.name]
    if not names:
        raise UnknownPbx(
            f"unblock-bot check: there is no PBX {name!r}: this bot serves one PBX, from the THREECX_* settings, "
            "which has no name (UNBLOCK_PBXES is not set); run unblock-bot check without a name."
        )
    raise UnknownPbx(f"unblock-bot check: there is no PBX {name!r}; the PBXes are {', '.join(names)}.")


async def preflight(
    settings: Settings,
    redactor: Redactor,
    say: Callable[[str], None] = print,
    pbxes: Sequence[PbxSettings] | None = None,
) -> bool:
    """Check the database, the Slack token, and each of ``pbxes`` (by default every one the bot serves): its
    channels, its rules and its 3CX; print one line per check; True if all passed."""
    pbxes = settings.pbxes if pbxes is None else pbxes
    try:
        store = await open_store(settings.database_url, wait=0)
    except StoreUnavailable as error:
        say(f"{FAIL} Database: {error}.")
        store = None
    else:
        meant = urls.relative_folders(settings.database_url)
        note = f" (under the working folder: for an absolute path, DATABASE_URL takes four slashes, {meant})"
        say(f"{OK} Database: {urls.where(settings.database_url)} is ready{note if meant else ''}.")
    headed = len(settings.pbxes) > 1 or settings.pbxes_file is not None
    failed: list[str] = []
    try:
        async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as group:
            client = AsyncWebClient(
                token=settings.slack_bot_token.reveal(), base_url=settings.slack_api_url, session=session
            )
            bot = await _signed_in(client, settings, say)
            posts_in = {channel for pbx in pbxes for _, _, channel in _channels(pbx)} if bot else set()
            members = {channel: group.create_task(_member(client, channel)) for channel in sorted(posts_in)}
            checks = [
                group.create_task(_check_pbx(pbx, settings, redactor, store, members, bot, headed)) for pbx in pbxes
            ]
            for pbx, check in zip(pbxes, checks, strict=True):
                lines, passed = await check
                for line in lines:
                    say(line)
                failed += [] if passed else [pbx.name]
    finally:
        if store is not None:
            await store.close()
    passed = store is not None and bot is not None and not failed
    names = [name for name in failed if name]
    which = f", for the PBX{'es' if len(names) > 1 else ''} {', '.join(names)}" if names else ""
    say("All checks passed." if passed else f"Some checks failed{which}; see above.")
    return passed


async def _signed_in(client: AsyncWebClient, settings: Settings, say: Callable[[str], None]) -> str | None:
    """The bot's user name, once Slack accepted its token (an ``ok`` line); None (a ``FAIL`` line) if not."""
    try:
        auth = await client.auth_test()
    except Exception as error:
        unreachable = slack_unreachable(error, settings.slack_api_url)
        if unreachable is None:
            unreachable = f"auth.test failed ({error_code(error)}). Check SLACK_BOT_TOKEN and SLACK_API_URL"
        say(f"{FAIL} Slack: {unreachable}.")
        return None
    say(f"{OK} Slack: signed in as @{auth.get('user')} in workspace {auth.get('team')} ({auth.get('team_id')}).")
    return str(auth.get("user") or "unblock-bot")


async def _check_pbx(
    pbx: PbxSettings,
    settings: Settings,
    redactor: Redactor,
    store: Store | None,
    members: dict[str, asyncio.Task[Membership]],
    bot: str | None,
    headed: bool,
) -> tuple[list[str], bool]:
    """The lines of ``pbx``'s block (headed by its name and address when ``headed``), and whether all passed."""
    lines = [f"PBX {pbx.name} at {pbx.url}:"] if headed else []

    def say(line: str) -> None:
        lines.append(_named(line, pbx))

    posts = bot is None or all(
        [
            _said_membership(await members[channel], channel, what, setting, bot, say)
            for what, setting, channel in _channels(pbx)
        ]
    )
    _say_rules(pbx, settings, say)
    tokens = store.scoped(pbx.name).renew_token if store is not None else None
    threecx = await check_threecx(pbx, settings.threecx_timeout, redactor, say, tokens)
    return lines, posts and threecx


def _named(line: str, pbx: PbxSettings) -> str:
    """``line``, where a setting of the one PBX (``THREECX_BASE_URL``) is named as the key of ``pbx``'s table in the
    PBXes file (``acme's url``) when it is one of the file's."""
    if not pbx.name:
        return line
    for setting, key in PBX_KEYS.items():
        line = line.replace(setting, f"{pbx.name}'s {key}")
    return line


def _channels(pbx: PbxSettings) -> list[tuple[str, str, str]]:
    """The channels the bot posts in for ``pbx``: (what it is, the setting that names it, its id)."""
    named_by = [
        ("watch channel", "UNBLOCK_WATCH_CHANNEL", pbx.watch.channel if pbx.watch else None),
        ("approvals channel", "UNBLOCK_APPROVAL_CHANNEL", pbx.approval_channel),
    ]
    own = [("channel", f"{pbx.name}'s channels", channel) for channel in sorted(pbx.channels)]
    return [(what, setting, channel) for what, setting, channel in named_by if channel is not None] + own


async def _member(client: AsyncWebClient, channel: str) -> Membership:
    """Whether the bot is a member of ``channel`` (asked without posting anything), or Slack's error code."""
    try:
        info = await client.conversations_info(channel=channel)
    except Exception as error:
        return error_code(error)
    return bool((info.get("channel") or {}).get("is_member"))


def _said_membership(
    member: Membership, channel: str, what: str, setting: str, bot: str, say: Callable[[str], None]
) -> bool:
    """Say whether the bot (signed in as ``bot``) can post in ``channel`` (the ``what``), of which it is a
    ``member`` or not; True if it can."""
    if isinstance(member, str):
        say(
            f"{FAIL} Slack: the {what} {channel} cannot be read ({member}). Check {setting}, "
            "and that the app has the channels:read and groups:read scopes."
        )
        return False
    if not member:
        say(f"{FAIL} Slack: the bot is not in the {what} {channel}; invite it with /invite @{bot}.")
        return False
    say(f"{OK} Slack: the bot can post in the {what} {channel}.")
    return True


def _say_rules(pbx: PbxSettings, settings: Settings, say: Callable[[str], None]) -> None:
    """One line on the rules read (a rules file with problems stops the bot before any check, as any setting
    that has one does), and one on what the reminders and the escalation of the settings
    (``UNBLOCK_REMIND_AFTER``, ``UNBLOCK_ESCALATE_AFTER``) will do under the requests' time to live, and how many
    rules set their own."""
    rules, default, ttl = pbx.rules.rules, pbx.rules.default, settings.request_ttl
    if not rules and not pbx.name:
        say(
            f"{OK} Rules: no rules file (UNBLOCK_RULES), so approvals follow the settings: one approval by "
            "UNBLOCK_APPROVERS for every entry."
        )
    elif not rules:
        say(
            f"{OK} Rules: no rules file ({pbx.name}'s rules, or UNBLOCK_RULES), so one approval by {pbx.name}'s "
            "approvers (or UNBLOCK_APPROVERS) for every entry."
        )
    else:
        described = ", ".join(_described(rule) for rule in rules[:NAMED_RULES])
        more = f" and {len(rules) - NAMED_RULES:,} more" if len(rules) > NAMED_RULES else ""
        counted = f"{len(rules):,} rule{'s' if len(rules) != 1 else ''}"
        source = "" if pbx.name else f" in {settings.rules_file}"
        say(f"{OK} Rules: {counted}{source}: {described}{more}.")
    escalation = _when(default.escalate_after, ttl)
    to = [*sorted(default.escalate_to.users), *sorted(default.escalate_to.groups)]
    if 0 < default.escalate_after < ttl and to:
        escalation += f" to {', '.join(to)}"
    afters = (default.remind_after, default.escalate_after)
    own = sum((rule.remind_after, rule.escalate_after) != afters for rule in rules)
    where = f"{pbx.name}'s rules" if pbx.name else "UNBLOCK_RULES"
    set_own = f" ({own} rule{'s set their' if own != 1 else ' sets its'} own, in {where})" if own else ""
    say(f"{OK} Reminders: {_when(default.remind_after, ttl)}; escalation: {escalation}{set_own}.")


def _when(after: float, ttl: float) -> str:
    """``after 10 minutes``, ``off``, or why it never comes: requests expire first."""
    if after <= 0:
        return "off"
    if after >= ttl:
        return f"never, as requests expire first (UNBLOCK_REQUEST_TTL, {duration_words(ttl)})"
    return f"after {duration_words(after)}"


def _described(rule: Rule) -> str:
    """``Branch offices (auto)``, ``Wide networks (2 approvals)``, ``Everything else``."""
    if rule.auto:
        return f"{rule.name} (auto{', on watch' if rule.auto_on_watch else ''})"
    return f"{rule.name} ({rule.approvals} approvals)" if rule.approvals > 1 else rule.name or ""
