"""Pure functions from requests, results and errors to Slack text and Block Kit blocks."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ..threecx import BlocklistEntry, DeleteOutcome, ThreeCXError
from ..unblock import State, UnblockRequest

Blocks = list[dict[str, Any]]

APPROVE = "unblock_approve"
DENY = "unblock_deny"
CANCEL = "unblock_cancel"

BUSY = "The bot is very busy right now and could not take this on. Please try again in a minute."


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
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _address(entry: BlocklistEntry) -> str:
    return escape(entry.address)


def entry_fields(entry: BlocklistEntry) -> dict[str, Any]:
    fields = [
        ("Address", f"`{_address(entry)}`"),
        ("Entry", str(entry.id)),
        ("Description", escape(entry.description) if entry.description else "_none_"),
        ("Block type", escape(entry.block_type or "unknown")),
        ("Added by", escape(entry.added_by or "unknown")),
        ("Expires", entry_expiry(entry.expires_at)),
    ]
    return {"type": "section", "fields": [_mrkdwn(f"*{name}*\n{value}") for name, value in fields]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def request_card(request: UnblockRequest) -> tuple[str, Blocks]:
    """The card asking for approval."""
    address = request.entry.address
    approve = _button("Approve", APPROVE, request.id, "primary")
    approve["confirm"] = {
        "title": {"type": "plain_text", "text": "Remove from the blocklist?"},
        "text": {"type": "plain_text", "text": f"Unblock {address}? Calls from it will reach the PBX again."},
        "confirm": {"type": "plain_text", "text": "Unblock"},
        "deny": {"type": "plain_text", "text": "Keep blocked"},
    }
    text = f"<@{request.requester}> asks to unblock {_address(request.entry)}"
    blocks: Blocks = [
        _section(f":lock: *{text}* (3CX blocklist entry {request.entry.id})"),
        entry_fields(request.entry),
        _context(f"An approver can approve until {slack_date(request.expires_at)}. Request `{request.id}`."),
        {
            "type": "actions",
            "block_id": "unblock_decision",
            "elements": [
                approve,
                _button("Deny", DENY, request.id, "danger"),
                _button("Cancel", CANCEL, request.id),
            ],
        },
    ]
    return text, blocks


def outcome_card(request: UnblockRequest) -> tuple[str, Blocks]:
    """The card once a decision was taken (no buttons left)."""
    if request.state is State.PENDING:
        return request_card(request)
    entry = request.entry
    address = _address(entry)
    who, asked = f"<@{request.resolved_by}>", f"<@{request.requester}>"
    unchanged = "Nothing was changed in 3CX."
    emoji, headline, rest = {
        State.EXECUTING: (
            ":hourglass_flowing_sand:",
            f"Unblocking {address}…",
            f"Approved by {who}, requested by {asked}.",
        ),
        State.UNBLOCKED: (":white_check_mark:", f"{address} unblocked", f"by {who}, requested by {asked}.")
        if request.outcome != DeleteOutcome.ALREADY_GONE.value
        else (
            ":white_check_mark:",
            f"{address} is no longer on the blocklist",
            f"3CX no longer had the entry when {who} approved (requested by {asked}), so nothing was left to delete.",
        ),
        State.FAILED: (
            ":x:",
            f"Could not unblock {address}.",
            f"{failure_sentence(request.outcome, request)}\nApproved by {who}, requested by {asked}.",
        ),
        State.DENIED: (
            ":no_entry_sign:",
            f"Request to unblock {address} denied",
            f"by {who}, requested by {asked}. {unchanged}",
        ),
        State.CANCELLED: (
            ":leftwards_arrow_with_hook:",
            f"Request to unblock {address} cancelled",
            f"by {asked}. {unchanged}",
        ),
        State.EXPIRED: (
            ":hourglass:",
            f"Request to unblock {address} expired",
            f"without approval (requested by {asked}). {unchanged} Ask again with `/unblock {entry.id}`.",
        ),
    }[request.state]
    details = [f"Entry {entry.id}"]
    if entry.description:
        details.append(escape(entry.description))
    if request.resolved_at is not None and request.state is not State.EXPIRED:
        details.append(slack_date(request.resolved_at))
    if request.answer:
        details.append(f"3CX answered: {escape(request.answer)}")
    details.append(f"Request `{request.id}`")
    first_line = rest.split("\n")[0]
    return f"{headline} {first_line}", [
        _section(f"{emoji} *{headline}* {rest}"),
        _context(" · ".join(details)),
    ]


def failure_sentence(kind: str | None, request: UnblockRequest) -> str:
    """Why an approved unblock did not happen, in plain words."""
    entry_id = request.entry.id
    sentences = {
        "changed": (
            "The entry was changed in 3CX after the request was made, so the bot left it alone. "
            f"Run `/unblock {entry_id}` again to see it as it is now."
        ),
        "credentials": (
            "3CX refused the bot's API credentials. An admin should check THREECX_CLIENT_ID and "
            "THREECX_CLIENT_SECRET (`python -m bot check` tests them)."
        ),
        "forbidden": (
            "3CX did not allow the bot to remove it: the 3CX API client needs the System Admin role "
            "(Admin > Integrations > API)."
        ),
        "unavailable": (
            "3CX could not be reached or did not answer, even after retries, so it is not certain the entry "
            f"was removed. Check with `/unblock {entry_id}` and ask again if it is still there."
        ),
        "internal": "Something went wrong inside the bot; it was logged. Please try again or tell an admin.",
    }
    if kind in sentences:
        return sentences[kind]
    return "3CX refused to remove it" + (f": {escape(request.answer)}." if request.answer else ".")


def lookup_failure(error: ThreeCXError, entry_id: int) -> str:
    """Why ``/unblock <id>`` could not show the entry (ephemeral to the requester)."""
    if error.kind == "not_found":
        return (
            f"There is no entry {entry_id} in the 3CX IP blocklist, so there is nothing to unblock. "
            "Check the id in the 3CX blocklist."
        )
    sentences = {
        "credentials": "3CX refused the bot's API credentials, so the entry could not be read. Please tell an admin.",
        "forbidden": "3CX did not let the bot read the blocklist: its API client needs the System Admin role.",
        "unavailable": "3CX could not be reached or did not answer in time. Please try again in a few minutes.",
    }
    detail = f" 3CX said: {escape(error.detail)}" if error.detail else ""
    return sentences.get(error.kind, f"3CX could not show entry {entry_id}.{detail}") + " Nothing was requested."


def already_resolved(request: UnblockRequest) -> str:
    who = f"<@{request.resolved_by}>" if request.resolved_by else "someone"
    when = slack_date(request.resolved_at) if request.resolved_at is not None else "earlier"
    verbs = {
        State.EXECUTING: "was approved",
        State.UNBLOCKED: "was approved",
        State.FAILED: "was approved (and failed)",
        State.DENIED: "was denied",
        State.CANCELLED: "was cancelled",
    }
    verb = verbs.get(request.state, "was settled")
    if request.state is State.EXPIRED:
        return expired_notice(request)
    return f"This request {verb} by {who} {when}. Nothing more was done."


def expired_notice(request: UnblockRequest) -> str:
    return (
        f"This request expired {slack_date(request.expires_at)}; nothing was changed in 3CX. "
        f"Ask again with `/unblock {request.entry.id}`."
    )


def unknown_request() -> str:
    return "The bot has no record of this request, so nothing was done. Ask again with `/unblock <id>`."
