"""``unblock-bot check``'s lines about one PBX's 3CX: its API client's token, whether its lists can be read and
entries removed, and what it knows about addresses. Changes nothing in 3CX.

The 3CX access token is the one the bot shares through the database (the PBX's own row): 3CX keeps one active
token per API client, so a check that fetched a token of its own would log the running bot out.

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

from .config.pbxes import PbxSettings
from .domain.allowing import duration_words
from .domain.entries import MAX_ENTRY_ID, MIN_ENTRY_ID
from .domain.evidence import Thresholds
from .domain.outcomes import Outcome
from .logs import Redactor
from .network import host
from .served import threecx_client
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
#: the address whose event-log lines and phones are asked for (a documentation address, TEST-NET-1)
EVIDENCE_PROBE = "192.0.2.1"


async def check_threecx(
    pbx: PbxSettings, timeout: float, redactor: Redactor, say: Callable[[str], None], tokens: RenewToken | None
) -> bool:
    """Say one line per check of ``pbx``'s 3CX (each try within ``timeout``), naming its settings as the one PBX's
    (``THREECX_BASE_URL``); True if all passed."""
    client = threecx_client(pbx, timeout, redactor, retry=RetryPolicy(attempts=2, budget=timeout), share_token=tokens)
    where = f"3CX at {pbx.url}"

    async def ask(call: Awaitable[T], failed: str, works: str | None = None) -> T:
        """``call``'s answer, with an ``ok`` line saying what ``works`` (none if None); a ``FAIL`` line and
        _Failed if not."""
        try:
            answer = await call
        except ThreeCXError as error:
            say(f"{FAIL} {where}: {failed} ({_said(error, pbx.url)}).{_advice(error, pbx.url)}")
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
                f"the API client {pbx.client_id!r} got an access token",
            )
            highest = await ask(_highest_id(client), "reading the IP blocklist failed", "the IP blocklist can be read")
            if pbx.watch is not None:
                interval = duration_words(pbx.watch.interval)
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
        await _check_evidence(ThreeCXEvidence(client), where, pbx, say)
    return all(rights)


async def _check_evidence(evidence: ThreeCXEvidence, where: str, pbx: PbxSettings, say: Callable[[str], None]) -> None:
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
    unread = ", ".join(f"{name} ({_said(error, pbx.url)})" for name, error in missing.items())
    roles = any(error.reason in (Outcome.FORBIDDEN, Outcome.NOT_FOUND) for error in missing.values())
    advice = f" {ADVICE[Outcome.FORBIDDEN]}" if roles else _advice(next(iter(missing.values())), pbx.url)
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
    """What an admin should check, after a space (in the words of the one PBX's settings); empty when there is
    nothing to add."""
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
