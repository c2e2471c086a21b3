"""Pure functions from requests, results and errors to Slack text and Block Kit blocks.

Every text from elsewhere (3CX's descriptions and answers, people's reasons) is
shortened to a budget before it is escaped, and every block is built by
``bot.slack.blocks``, so each message keeps Slack's limits whatever it shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from ..lookup import Matches, Page
from ..threecx import BlockedNumber, BlocklistEntry, Target, ThreeCXError
from ..unblock import Outcome, Result, State, UnblockRequest
from .blocks import (
    Blocks,
    actions,
    button,
    clip,
    confirm,
    context,
    escape,
    fallback,
    fields,
    fit,
    section,
    sections,
)
from .buttons import APPROVE, CANCEL, CHOOSE, DENY, LIST_MORE, UNDO, ChoiceButton, PageButton, RequestButton

#: how many entries a card or a chooser lists before it says "and N more"
SHOWN_ENTRIES = 10
#: budgets for text from elsewhere, in characters before escaping
LABEL = 120
DESCRIPTION = 300
DESCRIPTION_IN_LIST = 150
ANSWER = 500
REASON_IN_LIST = 80

BUSY = "The bot is very busy right now and could not take this on. Please try again in a minute."
BUSY_CLICK = (
    "The bot is very busy right now and could not take this click; nothing was changed. Please click again in a minute."
)
OTHER_WORKSPACE = "This bot only takes requests from people of its own workspace, so nothing was done."
CHOICE_OUT_OF_DATE = "That choice is out of date; run the `/unblock` command again."
LISTING_OUT_OF_DATE = "That list is out of date; run `/unblock list` again."
NOTHING_CHOSEN_BLOCKS = "None of the chosen entries blocks anything any more."
DATABASE_AWAY = (
    "The bot could not reach its database just now, so it could not do this, and nothing was changed in 3CX. "
    "Please try again in a minute."
)


def slack_date(epoch: float) -> str:
    """A time every reader sees in their own time zone (UTC as the fallback text)."""
    shown = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{shown}>"


def entry_expiry(value: str | None) -> str:
    """3CX's ``ExpiresAt``: a readable date, ``never`` for its empty dates."""
    if not value:
        return "never"
    # 3CX writes seven fractional digits; Python reads at most six
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return fit(value, 60)
    if moment.year <= 1:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return slack_date(moment.timestamp())


def label(target: Target) -> str:
    return fit(target.label, LABEL)


def looking_up_entry(entry_id: int) -> str:
    return f"Looking up blocklist entry {entry_id} in 3CX…"


def looking_for_address(shown: str) -> str:
    return f"Looking for blocklist entries that block {shown}…"


def looking_for_number(number: str) -> str:
    return f"Looking for the blocked caller number {number}…"


def an_allow_entry(entry: BlocklistEntry) -> str:
    return f"Entry {entry.id} (`{label(entry)}`) is an allow-list entry, not a block; there is nothing to unblock."


def describe(target: Target, description: int = DESCRIPTION) -> str:
    """One line about an entry: what it blocks and where it came from."""
    if isinstance(target, BlocklistEntry):
        parts = [f"`{label(target)}`", f"entry {target.id}", fit(target.block_type or "Block", 20)]
        parts.append(f"added by {fit(target.added_by or 'unknown', 40)}")
        parts.append(f"expires {entry_expiry(target.expires_at)}")
    else:
        parts = [f"`{label(target)}`", "blocked caller number"]
    if target.description:
        parts.append(f"_{fit(target.description, description)}_")
    return " · ".join(parts)


def entry_fields(entry: BlocklistEntry) -> dict[str, object]:
    return fields(
        [
            ("Address", f"`{label(entry)}`"),
            ("Entry", str(entry.id)),
            ("Description", fit(entry.description, 1500) if entry.description else "_none_"),
            ("Block type", fit(entry.block_type or "unknown", 40)),
            ("Added by", fit(entry.added_by or "unknown", 40)),
            ("Expires", entry_expiry(entry.expires_at)),
        ]
    )


def _target_lines(targets: Sequence[Target], results: Sequence[Result] = ()) -> str:
    lines = []
    for n, target in enumerate(targets[:SHOWN_ENTRIES]):
        mark = ""
        if n < len(results):
            done = results[n].outcome.gone or results[n].outcome is Outcome.RESTORED
            mark = ":white_check_mark: " if done else ":x: "
        lines.append(f"• {mark}{describe(target, DESCRIPTION_IN_LIST)}")
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


def _title(request: UnblockRequest) -> str:
    return fit(request.title, LABEL)


def request_card(request: UnblockRequest) -> tuple[str, Blocks]:
    """The card asking for approval."""
    them = "it" if len(request.targets) == 1 else "them"
    value = RequestButton(request.id).encode()
    question = f"Unblock {clip(request.title, 150)}? Calls from {them} will reach the PBX again."
    approve = button("Approve", APPROVE, value, "primary", confirm("Remove from the blocklist?", question, "Unblock",
                                                                   "Keep blocked"))  # fmt: skip
    blocks: Blocks = [section(f":lock: *<@{request.requester}> asks to unblock {_what(request)}*")]
    only = request.targets[0] if len(request.targets) == 1 else None
    if isinstance(only, BlocklistEntry):
        blocks.append(entry_fields(only))
    else:
        blocks.append(section(_target_lines(request.targets)))
    if request.reason:
        blocks.append(section(f"*Reason:* {fit(request.reason, 1000)}"))
    blocks.append(context(f"An approver can approve until {slack_date(request.expires_at)}. Request `{request.id}`."))
    blocks.append(actions("unblock_decision", approve, button("Deny", DENY, value, "danger"),
                          button("Cancel", CANCEL, value)))  # fmt: skip
    return fallback(f"<@{request.requester}> asks to unblock {clip(request.title, 200)}"), blocks


def outcome_card(request: UnblockRequest, now: float) -> tuple[str, Blocks]:
    """The card once a decision was taken: no decision buttons; Undo while it may be used."""
    if request.state is State.PENDING:
        return request_card(request)
    title = _title(request)
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
        State.CANCELLED: _cancelled(request, title, asked, unchanged),
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
    blocks: Blocks = [section(f"{emoji} *{headline}* {rest}")]
    if len(request.targets) > 1 or isinstance(request.targets[0], BlockedNumber):
        undo_phase = request.state.undo_phase
        lines = _target_lines(request.removed if undo_phase else request.targets,
                              request.undo_results if undo_phase else request.results)  # fmt: skip
        if lines:
            blocks.append(section(lines))
    details = [
        fit(t.description, DESCRIPTION) for t in request.targets[:1] if t.description and len(request.targets) == 1
    ]
    if request.reason:
        details.insert(0, f"Reason: {fit(request.reason, DESCRIPTION)}")
    if request.resolved_at is not None and request.state is not State.EXPIRED:
        details.append(slack_date(request.resolved_at))
    answers = request.undo_results if request.state.undo_phase else request.results
    if len(answers) == 1:
        details.append(f"3CX answered: {fit(answers[0].answer, ANSWER)}")
    if any(r.after_restart for r in answers):
        details.append("finished after a restart of the bot")
    details.append(f"Request `{request.id}`")
    blocks.append(context(" · ".join(details)))
    if undo_open(request, now):
        assert request.undo_until is not None
        undo = button("Undo", UNDO, RequestButton(request.id).encode(), confirm=confirm(
            "Block again?", f"Put {clip(request.title, 150)} back on the 3CX blocklist as it was?", "Block again",
            "Leave it",
        ))  # fmt: skip
        blocks.append(actions("unblock_undo", undo))
        blocks.append(context(f"An approver can undo this until {slack_date(request.undo_until)}."))
    first_line = rest.split("\n")[0]
    return fallback(f"{headline} {clip(first_line, 300)}"), blocks


def undo_open(request: UnblockRequest, now: float) -> bool:
    return (
        request.state in (State.UNBLOCKED, State.FAILED)
        and request.undo_until is not None
        and now <= request.undo_until
        and bool(request.removed)
    )


def stale_undo_button(request: UnblockRequest, now: float) -> bool:
    """The card still shows Undo although its time is up: redraw it without."""
    return (
        request.state in (State.UNBLOCKED, State.FAILED)
        and request.undo_until is not None
        and not undo_open(request, now)
    )


def _unblocked(request: UnblockRequest, title: str, who: str, asked: str) -> tuple[str, str, str]:
    if all(r.outcome is Outcome.ALREADY_GONE for r in request.results):
        # 3CX answered 404: gone, whoever removed it
        return (
            ":white_check_mark:",
            f"{title} is no longer on the blocklist:",
            f"3CX does not list it any more. Approved by {who}, requested by {asked}.",
        )
    return ":white_check_mark:", f"{title} unblocked", f"by {who}, requested by {asked}."


def _cancelled(request: UnblockRequest, title: str, asked: str, unchanged: str) -> tuple[str, str, str]:
    if request.resolved_by is None:  # withdrawn by the bot: its card could not be posted
        return (
            ":leftwards_arrow_with_hook:",
            f"Request to unblock {title} withdrawn",
            f"(requested by {asked}). {unchanged}",
        )
    return ":leftwards_arrow_with_hook:", f"Request to unblock {title} cancelled", f"by {asked}. {unchanged}"


_FAILURES = {
    Outcome.CHANGED: "It was changed in 3CX after the request was made, so the bot left it alone. "
    "Ask again to see it as it is now.",
    Outcome.CREDENTIALS: (
        "3CX refused the bot's API credentials. An admin should check THREECX_CLIENT_ID and "
        "THREECX_CLIENT_SECRET (`python -m bot check` tests them)."
    ),
    Outcome.FORBIDDEN: "3CX did not allow the bot to do this: the 3CX API client needs the System Admin role "
    "(Admin &gt; Integrations &gt; API).",
    Outcome.UNAVAILABLE: "3CX could not be reached or did not answer, even after retries, so it is not certain "
    "what happened. Check the blocklist and ask again if needed.",
    Outcome.INTERNAL: "Something went wrong inside the bot; it was logged. Please try again or tell an admin.",
    Outcome.INTERRUPTED: "The bot was stopped before 3CX confirmed, and a check afterwards found it unchanged. "
    "Ask again if it should still be done.",
}


def failure_sentence(request: UnblockRequest) -> str:
    """Why an approved unblock did not (fully) happen, in plain words."""
    kind = request.outcome
    sentence = _FAILURES.get(kind) if kind is not None else None
    if sentence is None:
        answer = next((r.answer for r in request.results if r.outcome == kind), None)
        sentence = "3CX refused to remove it" + (f": {fit(answer, ANSWER)}." if answer else ".")
    removed = len(request.removed)
    if removed and len(request.targets) > 1:
        sentence = f"{removed} of {len(request.targets)} entries were removed. " + sentence
    return sentence


def _undo_failure(request: UnblockRequest) -> str:
    failed = [(t, r) for t, r in zip(request.removed, request.undo_results, strict=False)
              if r.outcome is not Outcome.RESTORED]  # fmt: skip
    kind = failed[0][1].outcome if failed else None
    reason = _FAILURES.get(kind) if kind is not None else None
    if reason is None:
        reason = f"3CX answered: {fit(failed[0][1].answer, ANSWER)}." if failed else ""
    values = "; ".join(fit(json.dumps(t.creation_json(), ensure_ascii=False), 600) for t, _ in failed[:3])
    more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    return f"{reason} Re-add it in the 3CX console with: {values}{more}."


def lookup_failure(error: ThreeCXError, what: str) -> str:
    """Why ``/unblock …`` could not show what was asked for (ephemeral to the requester)."""
    if error.kind == "not_found":
        return f"There is no {what} in 3CX, so there is nothing to unblock. Check it with `/unblock list`."
    sentences = {
        "credentials": "3CX refused the bot's API credentials, so nothing could be read. Please tell an admin.",
        "forbidden": "3CX did not let the bot read the blocklist: its API client needs the System Admin role.",
        "unavailable": "3CX could not be reached or did not answer in time. Please try again in a few minutes.",
    }
    detail = f" 3CX said: {fit(error.detail, ANSWER)}" if error.detail else ""
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


def chooser(asked: str, kind: str, matches: Matches, offer_id: str) -> tuple[str, Blocks]:
    """Several entries match: list them (privately) and let the requester pick one, or all."""
    found: Sequence[Target] = matches.blocking
    count = f"{len(found)}{'+' if matches.truncated else ''}"
    things = "blocked caller numbers" if kind == "number" else "blocklist entries"
    blocks: Blocks = [section(f"*{count} {things} match {escape(asked)}.* Which should be unblocked?")]
    for n, target in enumerate(found[:SHOWN_ENTRIES]):
        pick = button("Unblock this", CHOOSE, ChoiceButton(offer_id, n).encode())
        blocks.append(section(describe(target, DESCRIPTION_IN_LIST), accessory=pick))
    if len(found) > SHOWN_ENTRIES:
        blocks.append(context(f"…and {len(found) - SHOWN_ENTRIES} more."))
    if matches.truncated:
        blocks.append(context("More entries match than one request can hold; narrow it down after these."))
    every = button(f"Unblock all {len(found)}", CHOOSE, ChoiceButton(offer_id, None).encode())
    blocks.append(actions("unblock_choose_all", every))
    return fallback(f"{count} {things} match {asked}"), blocks


def asked_approvers(targets: Sequence[Target]) -> str:
    shown = f"`{label(targets[0])}`" if len(targets) == 1 else f"{len(targets)} entries"
    return f"Asked the approvers to unblock {shown}."


def already_requested(request: UnblockRequest, workspace_url: str | None) -> str:
    """A new request covers an entry that an open request already covers: where that one is."""
    where = f"<#{request.channel}>"
    if workspace_url and request.message_ts:
        where = f"<{workspace_url}archives/{request.channel}/p{request.message_ts.replace('.', '')}|this card>"
    state = "is waiting for approval" if request.state is State.PENDING else "is being carried out"
    return (
        f"A request to unblock {_title(request)} (asked by <@{request.requester}>) already {state}: see {where}. "
        "Nothing new was requested."
    )


def card_not_posted(error: str) -> str:
    return (
        f"The bot could not post the request in this channel (Slack said: {fit(error, 100)}), so nothing was "
        "requested and nothing was changed in 3CX. If it happens again, please tell an admin."
    )


def listing(text: str | None, page: Page) -> tuple[str, Blocks]:
    """``/unblock list``: a page of the newest entries; **More** continues after the last one shown."""
    where = f" matching `{fit(text, 64)}`" if text else ""
    if not page.entries:
        none = "No blocklist entries" + where + (" on this page." if page.skip else ".")
        return fallback(none), [section(none)]
    first, last = page.skip + 1, page.skip + len(page.entries)
    heading = f"*Newest blocklist entries{where}* ({first} to {last}). Unblock one with `/unblock` and its number."
    blocks = sections([f"• {describe(e, DESCRIPTION_IN_LIST)}" for e in page.entries], heading)
    if page.more:
        blocks.append(actions("unblock_list", button("More", LIST_MORE, PageButton(text, last).encode())))
    return fallback(f"Newest blocklist entries{where}"), blocks


def history(requests: Sequence[UnblockRequest], everywhere: bool) -> tuple[str, Blocks]:
    """``/unblock history``: one line per request, newest first."""
    scope = "" if everywhere else " in this channel"
    if not requests:
        none = f"No unblock requests yet{scope}."
        return none, [section(none)]
    lines = []
    for r in requests:
        line = f"• {slack_date(r.created_at)} `{_title(r)}` *{r.state.value.replace('_', ' ')}*"
        if r.resolved_by and r.state not in (State.EXPIRED, State.PENDING):
            verb = {State.DENIED: "denied", State.CANCELLED: "cancelled"}.get(r.state, "approved")
            line += f", {verb} by <@{r.resolved_by}>"
        line += f", requested by <@{r.requester}>"
        if everywhere:
            line += f" in <#{r.channel}>"
        if r.undone_by and r.state.undo_phase:
            line += f", undone by <@{r.undone_by}>"
        if r.reason:
            line += f" · _{fit(r.reason, REASON_IN_LIST)}_"
        lines.append(line + f" · `{r.id}`")
    heading = f"*Latest unblock requests{scope}*"
    return fallback(f"Latest unblock requests{scope}"), sections(lines, heading)


def already_resolved(request: UnblockRequest) -> str:
    if request.state is State.EXPIRED:
        return expired_notice(request)
    if request.state.undo_phase:
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
