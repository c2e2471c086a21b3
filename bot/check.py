"""``python -m bot check``: does this install work? Changes nothing in Slack or 3CX.

The database is opened as the bot would open it (a new SQLite file is created, an old schema upgraded),
and the 3CX access token is the one the bot shares through it: 3CX keeps one active token per API
client, so a check that fetched a token of its own would log the running bot out.

3CX has roles under which an API client may read its lists but not change them. The right to remove is
proven on each list by removing an entry that does not exist: an Id 3CX has just said it does not have
(404 to a GET) is sent a DELETE, and 404 means the client may delete, 403 that its role is missing.
The DELETE carries an ``If-Match`` (3CX documents the header on it) that no entry's ETag equals: should 3CX
hand that Id out between the GET and the DELETE, it answers 412 and the new entry is left alone.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from .app import slack_unreachable, threecx_client
from .config import Settings
from .domain.allowing import duration_words
from .domain.entries import MAX_ENTRY_ID, MIN_ENTRY_ID
from .domain.evidence import Thresholds
from .domain.outcomes import Outcome
from .domain.rules import Rule
from .logs import Redactor
from .network import host
from .slack.failures import error_code
from .storage import urls
from .storage.database import StoreUnavailable
from .storage.opening import open_store
from .threecx.client import ThreeCXClient
from .threecx.errors import ADVICE, ChangedError, NotFoundError, ThreeCXError, UnexpectedResponseError
from .threecx.evidence import ThreeCXEvidence
from .threecx.lists import IpBlocklist
from .threecx.models import BLACKLIST_NUMBERS, BLOCKLIST, EntitySet
from .threecx.retry import RetryPolicy
from .threecx.tokens import RenewToken

#: a line that passed, one that failed, and one that tells of something missing that the bot can do without
OK, FAIL, WARN = "ok  ", "FAIL", "warn"
T = TypeVar("T")
#: how far above the highest Id on the IP blocklist the Id sent a DELETE lies (3CX's Ids only grow)
PROBE_DISTANCE = 1_000_000
#: Ids tried on each list, at most, for one that does not exist
PROBE_TRIES = 3
#: the ETag the probe's DELETE must match (``If-Match``): an OData ETag no entry has
PROBE_ETAG = 'W/"unblock-bot-check-matches-no-entry"'
#: the most rules the Rules line names (the others are counted)
NAMED_RULES = 10
#: the address whose event-log lines and phones are asked for (a documentation address, TEST-NET-1)
EVIDENCE_PROBE = "192.0.2.1"


async def preflight(settings: Settings, redactor: Redactor, say: Callable[[str], None] = print) -> bool:
    """Check the database, the Slack token and the 3CX credentials, and say what rules were read; print one line per
    check; True if all passed."""
    try:
        store = await open_store(settings.database_url, wait=0)
    except StoreUnavailable as error:
        say(f"{FAIL} Database: {error}.")
        store = None
    else:
        meant = urls.relative_folders(settings.database_url)
        note = f" (under the working folder: for an absolute path, DATABASE_URL takes four slashes, {meant})"
        say(f"{OK} Database: {urls.where(settings.database_url)} is ready{note if meant else ''}.")
    try:
        slack = await _check_slack(settings, say)
        _say_rules(settings, say)
        threecx = await _check_threecx(settings, redactor, say, store.renew_token if store is not None else None)
    finally:
        if store is not None:
            await store.close()
    passed = store is not None and slack and threecx
    say("All checks passed." if passed else "Some checks failed; see above.")
    return passed


async def _check_slack(settings: Settings, say: Callable[[str], None]) -> bool:
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(
            token=settings.slack_bot_token.reveal(), base_url=settings.slack_api_url, session=session
        )
        try:
            auth = await client.auth_test()
        except Exception as error:
            unreachable = slack_unreachable(error, settings.slack_api_url)
            if unreachable is None:
                unreachable = f"auth.test failed ({error_code(error)}). Check SLACK_BOT_TOKEN and SLACK_API_URL"
            say(f"{FAIL} Slack: {unreachable}.")
            return False
        say(f"{OK} Slack: signed in as @{auth.get('user')} in workspace {auth.get('team')} ({auth.get('team_id')}).")
        channels = [
            ("watch channel", "UNBLOCK_WATCH_CHANNEL", settings.watch.channel if settings.watch else None),
            ("approvals channel", "UNBLOCK_APPROVAL_CHANNEL", settings.approval_channel),
        ]
        bot = str(auth.get("user") or "unblock-bot")
        found = [await _check_channel(client, c, what, name, bot, say) for what, name, c in channels if c is not None]
        return all(found)


def _say_rules(settings: Settings, say: Callable[[str], None]) -> None:
    """One line on the rules read (a rules file with problems stops the bot before any check, as any setting
    that has one does), and one on what the reminders and the escalation of the settings
    (``UNBLOCK_REMIND_AFTER``, ``UNBLOCK_ESCALATE_AFTER``) will do under the requests' time to live, and how many
    rules set their own."""
    rules, default, ttl = settings.rules.rules, settings.rules.default, settings.request_ttl
    if not rules:
        say(
            f"{OK} Rules: no rules file (UNBLOCK_RULES), so approvals follow the settings: one approval by "
            "UNBLOCK_APPROVERS for every entry."
        )
    else:
        described = ", ".join(_described(rule) for rule in rules[:NAMED_RULES])
        more = f" and {len(rules) - NAMED_RULES:,} more" if len(rules) > NAMED_RULES else ""
        counted = f"{len(rules):,} rule{'s' if len(rules) != 1 else ''}"
        say(f"{OK} Rules: {counted} in {settings.rules_file}: {described}{more}.")
    escalation = _when(default.escalate_after, ttl)
    to = [*sorted(default.escalate_to.users), *sorted(default.escalate_to.groups)]
    if 0 < default.escalate_after < ttl and to:
        escalation += f" to {', '.join(to)}"
    afters = (default.remind_after, default.escalate_after)
    own = sum((rule.remind_after, rule.escalate_after) != afters for rule in rules)
    set_own = f" ({own} rule{'s set their' if own != 1 else ' sets its'} own, in UNBLOCK_RULES)" if own else ""
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


async def _check_channel(
    client: AsyncWebClient, channel: str, what: str, setting: str, bot: str, say: Callable[[str], None]
) -> bool:
    """The bot (signed in as ``bot``) can post in ``channel`` (the ``what``): it is a member (asked without
    posting anything)."""
    try:
        info = await client.conversations_info(channel=channel)
    except Exception as error:
        say(
            f"{FAIL} Slack: the {what} {channel} cannot be read ({error_code(error)}). Check {setting}, "
            "and that the app has the channels:read and groups:read scopes."
        )
        return False
    if not (info.get("channel") or {}).get("is_member"):
        say(f"{FAIL} Slack: the bot is not in the {what} {channel}; invite it with /invite @{bot}.")
        return False
    say(f"{OK} Slack: the bot can post in the {what} {channel}.")
    return True


async def _check_threecx(
    settings: Settings, redactor: Redactor, say: Callable[[str], None], tokens: RenewToken | None
) -> bool:
    retry = RetryPolicy(attempts=2, budget=settings.threecx_timeout)
    client = threecx_client(settings, redactor, retry=retry, share_token=tokens)
    where = f"3CX at {settings.threecx_base_url}"

    async def ask(call: Awaitable[T], failed: str, works: str | None = None) -> T:
        """``call``'s answer, with an ``ok`` line saying what ``works`` (none if None); a ``FAIL`` line and
        _Failed if not."""
        try:
            answer = await call
        except ThreeCXError as error:
            url = settings.threecx_base_url
            say(f"{FAIL} {where}: {failed} ({_said(error, url)}).{_advice(error, url)}")
            raise _Failed from None
        if works is not None:
            say(f"{OK} {where}: {works}.")
        return answer

    async def may_remove(entity_set: EntitySet[Any], keys: Iterator[Any], name: str) -> bool:
        """Whether the API client may remove entries of the list ``name``, proven by a DELETE of an entry
        that does not exist (on condition that it matches ``PROBE_ETAG``, which no entry does)."""
        try:
            for key in keys:
                entry = await ask(
                    _unless(client.get(entity_set, key), NotFoundError), f"reading {name} entry {key!r} failed"
                )
                if entry is None:  # 3CX has no such entry
                    break
            else:  # not to be expected: every Id tried is an entry's, and an entry is never sent a DELETE
                say(
                    f"{FAIL} {where}: whether the bot may remove {name} entries was not tried: every Id tried "
                    "belongs to an entry, and no entry is sent a DELETE; run the check again."
                )
                return False
            removal = await ask(
                _unless(client.delete(entity_set, key, etag=PROBE_ETAG), ChangedError),
                f"a DELETE of {name} entry {key!r}, which does not exist, failed",
            )
        except _Failed:
            return False
        if removal is None:
            say(
                f"{OK} {where}: the bot may remove {name} entries (a DELETE of entry {key!r}, sent with an If-Match "
                "that no entry matches, was answered 412, not 403: 3CX left that Id alone, whatever it holds now)."
            )
            return True
        if removal.deleted:
            say(
                f"{FAIL} {where}: {name} entry {key!r} may have been removed: a moment after saying it had no such "
                "entry, 3CX answered that a DELETE of it was carried out, though the DELETE carried an If-Match that "
                "no entry matches. This 3CX does not honour If-Match, so an entry added at that Id in between is "
                "gone. The check never read that entry and cannot put it back: look for it in 3CX and add it again "
                "if it was one."
            )
            return False
        say(
            f"{OK} {where}: the bot may remove {name} entries (a DELETE of entry {key!r}, which does not exist, was "
            "answered 404)."
        )
        return True

    async with client:
        try:
            await ask(
                client.check_credentials(),
                "no access token",
                f"the API client {settings.threecx_client_id!r} got an access token",
            )
            highest = await ask(_highest_id(client), "reading the IP blocklist failed", "the IP blocklist can be read")
            if settings.watch is not None:
                interval = duration_words(settings.watch.interval)
                await ask(
                    IpBlocklist(client).added_after(highest or 0, 1),
                    "the query for new blocks failed",
                    f"new blocks can be asked for (watching at an interval of {interval})",
                )
        except _Failed:
            return False
        # caller-number blacklist Ids no entry has: 64 random bits, after a prefix that names the check
        numbers = (f"unblock-bot-check-{secrets.token_hex(8)}" for _ in range(PROBE_TRIES))
        rights = [
            await may_remove(BLOCKLIST, _unused_entry_ids(highest), "IP blocklist"),
            await may_remove(BLACKLIST_NUMBERS, numbers, "caller-number blacklist"),
        ]
        await _check_evidence(ThreeCXEvidence(client), where, settings.threecx_base_url, say)
    return all(rights)


async def _check_evidence(evidence: ThreeCXEvidence, where: str, url: str, say: Callable[[str], None]) -> None:
    """One line that fails nothing: whether what 3CX knows about a blocked address (its event log, its phones and its
    anti-hacking settings) can be read for the cards, which cannot and why, and 3CX's thresholds in words."""
    names = ("the event log", "the phones", "the anti-hacking settings")
    calls = (evidence.logged(EVIDENCE_PROBE, 1), evidence.phones(EVIDENCE_PROBE), evidence.thresholds())
    answers = dict(zip(names, await asyncio.gather(*calls, return_exceptions=True), strict=True))
    if bug := next((a for a in answers.values() if isinstance(a, Exception) and not isinstance(a, ThreeCXError)), None):
        raise bug
    missing = {name: error for name, error in answers.items() if isinstance(error, ThreeCXError)}
    thresholds = answers["the anti-hacking settings"]
    blocks = f"; {_blocks(thresholds)}" if isinstance(thresholds, Thresholds) else ""
    if not missing:
        return say(f"{OK} {where}: {names[0]}, {names[1]} and {names[2]} can be read, for the cards{blocks}.")
    unread = ", ".join(f"{name} ({_said(error, url)})" for name, error in missing.items())
    roles = any(error.reason in (Outcome.FORBIDDEN, Outcome.NOT_FOUND) for error in missing.values())
    advice = f" {ADVICE[Outcome.FORBIDDEN]}" if roles else _advice(next(iter(missing.values())), url)
    say(f"{WARN} {where}: the cards leave out what the bot may not read: {unread}{blocks}.{advice}")


def _blocks(thresholds: Thresholds) -> str:
    """``3CX blocks an address after 25 failed authentications, for 1 day``."""
    count, block_for = thresholds.failed_auth, thresholds.block_for
    after = f"{count:,} failed authentication{'s' if count != 1 else ''}" if count else "failed authentications"
    return f"3CX blocks an address after {after}" + (f", for {duration_words(block_for)}" if block_for else "")


async def _highest_id(client: ThreeCXClient) -> int | None:
    """The highest Id on the IP blocklist, which the probe must lie far above: the highest of what 3CX returns
    for the newest entry (a 3CX that ignores ``$orderby`` or ``$top`` returns others, in its own order), then
    of any it lists above that, until it lists none; None when the list is empty."""
    highest = await IpBlocklist(client).highest_id()
    for _ in range(PROBE_TRIES):
        if highest is None:
            break
        above = await client.query(BLOCKLIST, filter=f"Id gt {highest:d}", top=1, orderby="Id desc")
        higher = [entry.id for entry in above if entry.id > highest]  # a 3CX that ignores $filter lists all
        if not higher:
            break
        highest = max(higher)
    return highest


async def _unless(call: Awaitable[T], refused: type[ThreeCXError]) -> T | None:
    """``call``'s answer, or None when 3CX answered with the error ``refused``: no such entry (``NotFoundError``,
    404), or none that matches the ``If-Match`` (``ChangedError``, 412)."""
    try:
        return await call
    except refused:
        return None


def _unused_entry_ids(highest: int | None) -> Iterator[int]:
    """IP blocklist Ids no entry has: far above the highest (3CX's Ids only grow); should the highest be at
    the end of the int32 range, Ids picked at random below it, which 3CX will not hand out again."""
    yield min((highest or 0) + PROBE_DISTANCE, MAX_ENTRY_ID)
    for _ in range(PROBE_TRIES - 1):
        yield MIN_ENTRY_ID + secrets.randbelow(MAX_ENTRY_ID - MIN_ENTRY_ID + 1)


class _Failed(Exception):
    """A check failed, and said so."""


def _said(error: ThreeCXError, url: str) -> str:
    """What went wrong and what 3CX answered, in one line without brackets: ``3CX refused the API client id or
    secret; HTTP 401: invalid_client``; when no answer came, only what happened (not the kind of network error):
    ``the PBX pbx.acme.net could not be reached: connection refused``, ``3CX did not answer in time``."""
    if error.unreached is not None:
        return f"the PBX {host(url)} could not be reached: {error.unreached}"
    if error.status is None:
        return error.message
    detail = error.detail if error.detail and error.detail.lower() != error.message.lower() else None
    return f"{error.message}; HTTP {error.status}" + (f": {detail}" if detail else "")


def _advice(error: ThreeCXError, url: str) -> str:
    """What an admin should check, after a space; empty when there is nothing to add."""
    if error.unreached is not None:
        return (
            f" Check the host in THREECX_BASE_URL, the DNS, and that no firewall stops this machine from reaching "
            f"{host(url)} over HTTPS."
        )
    wrong_place = isinstance(error, NotFoundError) or (
        isinstance(error, UnexpectedResponseError) and (error.status is None or 200 <= error.status < 300)
    )
    if wrong_place:  # no such path, or an answer that is not the XAPI's: the address is not the PBX's root
        return (
            " Check THREECX_BASE_URL: it should be the PBX's root address, the one its web client opens at "
            "(like https://pbx.acme.net), without /xapi/v1."
        )
    return f" {ADVICE[error.reason]}" if error.reason in ADVICE else ""
