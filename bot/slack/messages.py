"""Pure functions from requests, results and errors to Slack text and Block Kit blocks."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..lookup import Matches, Page
from ..threecx import BlockedNumber, BlocklistEntry, Target, ThreeCXError
from ..unblock import REMOVED, Result, State, UnblockRequest

Blocks = list[dict[str, Any]]

APPROVE = "unblock_approve"
DENY = "unblock_deny"
CANCEL = "unblock_cancel"
UNDO = "unblock_undo"
CHOOSE = "unblock_choose"
LIST_MORE = "unblock_list_more"

BUSY = "The bot is very busy right now and could not take this on. Please try again in a minute."
#: how many entries a card lists before it says "and N more"
SHOWN_ENTRIES = 10


def escape(text: str) -> str:
    """Text from elsewhere (3CX, users) shown as text: no mentions, links or formatting injected."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_date(epoch: float) -> str:
    """A time every reader sees in their own time zone (UTC as the fallback text)."""
    fallback = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def entry_expiry(value: str | None) -> str:
    """3CX's ``ExpiresAt``: a readable date, ``never`` for its empty dates."""
    if not value:
        return "never"
    # 3CX writes seven fractional digits; Python reads at most six
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return escape(value)
    if moment.year <= 1:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return slack_date(moment.timestamp())


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text[:3000])}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text[:3000])]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text[:75]},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _confirm(title: str, text: str, yes: str, no: str) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "plain_text", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": no},
    }


def label(target: Target) -> str:
    return escape(target.label)


def describe(target: Target) -> str:
    """One line about an entry: what it blocks and where it came from."""
    if isinstance(target, BlocklistEntry):
        parts = [f"`{label(target)}`", f"entry {target.id}", escape(target.block_type or "Block")]
        parts.append(f"added by {escape(target.added_by or 'unknown')}")
        parts.append(f"expires {entry_expiry(target.expires_at)}")
    else:
        parts = [f"`{label(target)}`", "blocked caller number"]
    if target.description:
        parts.append(f"_{escape(target.description)}_")
    return " · ".join(parts)


def entry_fields(entry: BlocklistEntry) -> dict[str, Any]:
    fields = [
        ("Address", f"`{label(entry)}`"),
        ("Entry", str(entry.id)),
        ("Description", escape(entry.description) if entry.description else "_none_"),
        ("Block type", escape(entry.block_type or "unknown")),
        ("Added by", escape(entry.added_by or "unknown")),
        ("Expires", entry_expiry(entry.expires_at)),
    ]
    return {"type": "section", "fields": [_mrkdwn(f"*{name}*\n{value}") for name, value in fields]}


def _target_lines(targets: Sequence[Target], results: Sequence[Result] = ()) -> str:
    lines = []
    for n, target in enumerate(targets[:SHOWN_ENTRIES]):
        mark = ""
        if n < len(results):
            mark = (
                ":white_check_mark: " if results[n].outcome in REMOVED or results[n].outcome == "restored" else ":x: "
            )
        lines.append(f"• {mark}{describe(target)}")
    if len(targets) > SHOWN_ENTRIES:
        lines.append(f"…and {len(targets) - SHOWN_ENTRIES} more")
    return "\n".join(lines)


def _what(request: UnblockRequest) -> str:
    """``203.0.113.7 (3CX blocklist entry 42)``, ``+15550100 (blocked caller number)`` or ``3 entries``."""
    if len(request.targets) > 1:
        return f"{len(request.targets)} blocklist entries"
    target = request.targets[0]
    if isinstance(target, BlocklistEntry):
        return f"{label(target)} (3CX blocklist entry {target.id})"
    return f"{label(target)} (blocked caller number)"


def request_card(request: UnblockRequest) -> tuple[str, Blocks]:
    """The card asking for approval."""
    title = request.title
    them = "it" if len(request.targets) == 1 else "them"
    approve = _button("Approve", APPROVE, request.id, "primary")
    approve["confirm"] = _confirm(
        "Remove from the blocklist?", f"Unblock {title}? Calls from {them} will reach the PBX again.", "Unblock",
        "Keep blocked",
    )  # fmt: skip
    text = f"<@{request.requester}> asks to unblock {escape(title)}"
    blocks: Blocks = [_section(f":lock: *<@{request.requester}> asks to unblock {_what(request)}*")]
    only = request.targets[0] if len(request.targets) == 1 else None
    if isinstance(only, BlocklistEntry):
        blocks.append(entry_fields(only))
    else:
        blocks.append(_section(_target_lines(request.targets)))
    if request.reason:
        blocks.append(_section(f"*Reason:* {escape(request.reason)}"))
    blocks.append(_context(f"An approver can approve until {slack_date(request.expires_at)}. Request `{request.id}`."))
    blocks.append(
        {
            "type": "actions",
            "block_id": "unblock_decision",
            "elements": [approve, _button("Deny", DENY, request.id, "danger"), _button("Cancel", CANCEL, request.id)],
        }
    )
    return text, blocks


def outcome_card(request: UnblockRequest, now: float) -> tuple[str, Blocks]:
    """The card once a decision was taken: no decision buttons; Undo while it may be used."""
    if request.state is State.PENDING:
        return request_card(request)
    title = escape(request.title)
    who, asked, undoer = f"<@{request.resolved_by}>", f"<@{request.requester}>", f"<@{request.undone_by}>"
    unchanged = "Nothing was changed in 3CX."
    by = f"Approved by {who}, requested by {asked}."
    emoji, headline, rest = {
        State.EXECUTING: (":hourglass_flowing_sand:", f"Unblocking {title}…", by),
        State.UNBLOCKED: _unblocked(request, title, who, asked),
        State.FAILED: (":x:", f"Could not unblock {title}.", f"{failure_sentence(request)}\n{by}"),
        State.DENIED: (
            ":no_entry_sign:",
            f"Request to unblock {title} denied",
            f"by {who}, requested by {asked}. {unchanged}",
        ),
        State.CANCELLED: (
            ":leftwards_arrow_with_hook:",
            f"Request to unblock {title} cancelled",
            f"by {asked}. {unchanged}",
        ),
        State.EXPIRED: (
            ":hourglass:",
            f"Request to unblock {title} expired",
            f"without approval (requested by {asked}). {unchanged} Ask again with `/unblock`.",
        ),
        State.UNDOING: (":rewind:", f"Putting {title} back on the blocklist…", f"Undo by {undoer}."),
        State.UNDONE: (
            ":rewind:",
            f"{title} is blocked again",
            f"{undoer} undid the unblock ({by[0].lower()}{by[1:]})",
        ),
        State.UNDO_FAILED: (
            ":warning:",
            f"Could not put {title} back on the blocklist.",
            f"{_undo_failure(request)} Undo asked by {undoer}.",
        ),
    }[request.state]
    blocks: Blocks = [_section(f"{emoji} *{headline}* {rest}")]
    if len(request.targets) > 1 or isinstance(request.targets[0], BlockedNumber):
        undo_phase = request.state in (State.UNDONE, State.UNDO_FAILED)
        blocks.append(_section(_target_lines(request.removed if undo_phase else request.targets,
                                             request.undo_results if undo_phase else request.results)))  # fmt: skip
    details = [escape(t.description) for t in request.targets[:1] if t.description and len(request.targets) == 1]
    if request.reason:
        details.insert(0, f"Reason: {escape(request.reason)}")
    if request.resolved_at is not None and request.state is not State.EXPIRED:
        details.append(slack_date(request.resolved_at))
    answers = request.undo_results if request.state in (State.UNDONE, State.UNDO_FAILED) else request.results
    if len(answers) == 1:
        details.append(f"3CX answered: {escape(answers[0].answer)}")
    details.append(f"Request `{request.id}`")
    blocks.append(_context(" · ".join(details)))
    if undo_open(request, now):
        assert request.undo_until is not None
        undo = _button("Undo", UNDO, request.id)
        undo["confirm"] = _confirm(
            "Block again?", f"Put {request.title} back on the 3CX blocklist as it was?", "Block again", "Leave it"
        )
        blocks.append({"type": "actions", "block_id": "unblock_undo", "elements": [undo]})
        blocks.append(_context(f"An approver can undo this until {slack_date(request.undo_until)}."))
    first_line = rest.split("\n")[0]
    return f"{_plain(headline)} {_plain(first_line)}", blocks


def undo_open(request: UnblockRequest, now: float) -> bool:
    return (
        request.state in (State.UNBLOCKED, State.FAILED)
        and request.undo_until is not None
        and now <= request.undo_until
        and bool(request.removed)
    )


def _plain(text: str) -> str:
    return text.replace("*", "").replace("`", "")


def _unblocked(request: UnblockRequest, title: str, who: str, asked: str) -> tuple[str, str, str]:
    if all(r.outcome == "already_gone" for r in request.results):
        # 3CX answered 404 (or a check after an interruption found it gone): gone, whoever removed it
        return (
            ":white_check_mark:",
            f"{title} is no longer on the blocklist:",
            f"3CX does not list it any more. Approved by {who}, requested by {asked}.",
        )
    return ":white_check_mark:", f"{title} unblocked", f"by {who}, requested by {asked}."


_FAILURES = {
    "changed": "It was changed in 3CX after the request was made, so the bot left it alone. "
    "Ask again to see it as it is now.",
    "credentials": (
        "3CX refused the bot's API credentials. An admin should check THREECX_CLIENT_ID and "
        "THREECX_CLIENT_SECRET (`python -m bot check` tests them)."
    ),
    "forbidden": "3CX did not allow the bot to do this: the 3CX API client needs the System Admin role "
    "(Admin > Integrations > API).",
    "unavailable": "3CX could not be reached or did not answer, even after retries, so it is not certain what "
    "happened. Check the blocklist and ask again if needed.",
    "internal": "Something went wrong inside the bot; it was logged. Please try again or tell an admin.",
    "interrupted": "The bot was stopped before 3CX confirmed, and a check afterwards found it unchanged. "
    "Ask again if it should still be done.",
}


def failure_sentence(request: UnblockRequest) -> str:
    """Why an approved unblock did not (fully) happen, in plain words."""
    kind = request.outcome
    sentence = _FAILURES.get(kind or "")
    if sentence is None:
        answer = next((r.answer for r in request.results if r.outcome == kind), None)
        sentence = "3CX refused to remove it" + (f": {escape(answer)}." if answer else ".")
    removed = len(request.removed)
    if removed and len(request.targets) > 1:
        sentence = f"{removed} of {len(request.targets)} entries were removed. " + sentence
    return sentence


def _undo_failure(request: UnblockRequest) -> str:
    failed = [(t, r) for t, r in zip(request.removed, request.undo_results, strict=False) if r.outcome != "restored"]
    kind = failed[0][1].outcome if failed else ""
    reason = _FAILURES.get(kind, f"3CX answered: {escape(failed[0][1].answer)}." if failed else "")
    values = "; ".join(escape(json.dumps(t.creation_json(), ensure_ascii=False)) for t, _ in failed[:SHOWN_ENTRIES])
    return f"{reason} Re-add it in the 3CX console with: {values}."


def lookup_failure(error: ThreeCXError, what: str) -> str:
    """Why ``/unblock …`` could not show what was asked for (ephemeral to the requester)."""
    if error.kind == "not_found":
        return f"There is no {what} in 3CX, so there is nothing to unblock. Check it with `/unblock list`."
    sentences = {
        "credentials": "3CX refused the bot's API credentials, so nothing could be read. Please tell an admin.",
        "forbidden": "3CX did not let the bot read the blocklist: its API client needs the System Admin role.",
        "unavailable": "3CX could not be reached or did not answer in time. Please try again in a few minutes.",
    }
    detail = f" 3CX said: {escape(error.detail)}" if error.detail else ""
    return sentences.get(error.kind, f"3CX could not show the {what}.{detail}") + " Nothing was requested."


def no_match(asked: str, matches: Matches) -> str:
    """What to say when nothing blocking matched an address or a number."""
    if matches.allowing:
        ids = ", ".join(f"`{label(e)}` (entry {e.id})" for e in matches.allowing[:SHOWN_ENTRIES])
        return f"{escape(asked)} is not blocked: it is on the 3CX allow list through {ids}. Nothing was requested."
    return (
        f"{escape(asked)} is not on the 3CX blocklist, so 3CX is not blocking it by this rule. "
        "Nothing was requested. If calls still fail, the cause is elsewhere (firewall, provider, credentials)."
    )


def chooser(asked: str, kind: str, matches: Matches, reason: str | None) -> tuple[str, Blocks]:
    """Several entries match: list them (privately) and let the requester pick one, or all."""
    found = matches.blocking
    count = f"{len(found)}{'+' if matches.truncated else ''}"
    blocks: Blocks = [_section(f"*{count} blocklist entries match {escape(asked)}.* Which should be unblocked?")]
    for target in found[:SHOWN_ENTRIES]:
        section = _section(describe(target))
        section["accessory"] = _button("Unblock this", CHOOSE, _choice(kind, [target.id], reason))
        blocks.append(section)
    if len(found) > SHOWN_ENTRIES:
        blocks.append(_context(f"…and {len(found) - SHOWN_ENTRIES} more."))
    if matches.truncated:
        blocks.append(_context("More entries match than one request can hold; narrow it down after these."))
    all_button = _button(f"Unblock all {len(found)}", CHOOSE, _choice(kind, [t.id for t in found], reason))
    blocks.append({"type": "actions", "block_id": "unblock_choose_all", "elements": [all_button]})
    return f"{count} blocklist entries match {asked}", blocks


def _choice(kind: str, ids: Sequence[int | str], reason: str | None) -> str:
    return json.dumps({"k": kind, "ids": list(ids), "r": reason}, separators=(",", ":"), ensure_ascii=False)


def listing(text: str | None, page: Page) -> tuple[str, Blocks]:
    """``/unblock list``: a page of the newest entries."""
    where = f" matching `{escape(text)}`" if text else ""
    if not page.entries:
        none = "No blocklist entries" + where + (" on this page." if page.skip else ".")
        return none, [_section(none)]
    first, last = page.skip + 1, page.skip + len(page.entries)
    heading = f"*Newest blocklist entries{where}* ({first} to {last}). Unblock one with `/unblock <entry>`."
    blocks: Blocks = [_section(heading), _section("\n".join(f"• {describe(e)}" for e in page.entries))]
    if page.more:
        value = json.dumps({"t": text, "s": last}, separators=(",", ":"), ensure_ascii=False)
        blocks.append({"type": "actions", "block_id": "unblock_list", "elements": [_button("More", LIST_MORE, value)]})
    return f"Newest blocklist entries{where}", blocks


def history(requests: Sequence[UnblockRequest]) -> str:
    """``/unblock history``: one line per request, newest first."""
    if not requests:
        return "No unblock requests yet."
    lines = ["*Latest unblock requests*"]
    for r in requests:
        line = f"• {slack_date(r.created_at)} `{escape(r.title)}` *{r.state.value.replace('_', ' ')}*"
        if r.resolved_by and r.state not in (State.EXPIRED, State.PENDING):
            verb = {State.DENIED: "denied", State.CANCELLED: "cancelled"}.get(r.state, "approved")
            line += f", {verb} by <@{r.resolved_by}>"
        line += f", requested by <@{r.requester}>"
        if r.undone_by and r.state in (State.UNDONE, State.UNDO_FAILED, State.UNDOING):
            line += f", undone by <@{r.undone_by}>"
        if r.reason:
            line += f" · _{escape(r.reason[:80])}_"
        lines.append(line + f" · `{r.id}`")
    return "\n".join(lines)


def already_resolved(request: UnblockRequest) -> str:
    if request.state is State.EXPIRED:
        return expired_notice(request)
    if request.state in (State.UNDOING, State.UNDONE, State.UNDO_FAILED):
        when = slack_date(request.undone_at) if request.undone_at is not None else "earlier"
        return f"This unblock was already undone by <@{request.undone_by}> {when}. Nothing more was done."
    who = f"<@{request.resolved_by}>" if request.resolved_by else "someone"
    when = slack_date(request.resolved_at) if request.resolved_at is not None else "earlier"
    verb = {State.DENIED: "was denied", State.CANCELLED: "was cancelled"}.get(request.state, "was approved")
    return f"This request {verb} by {who} {when}. Nothing more was done."


def expired_notice(request: UnblockRequest) -> str:
    return (
        f"This request expired {slack_date(request.expires_at)}; nothing was changed in 3CX. Ask again with `/unblock`."
    )


def unknown_request() -> str:
    return "The bot has no record of this request, so nothing was done. Ask again with `/unblock`."
