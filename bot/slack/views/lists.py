"""What a person reads about many entries or requests at once: listings, history and the choice among several
matching entries (all only for the person who asked), the report (``/unblock report``, only for the approver who
asked, and weekly in its channel), and the bot's Home tab (for an approver, the requests waiting for a decision
with Approve and Deny; for everyone, their own last requests and how they ended)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

from ...domain.allowing import duration_words
from ...domain.allows import Allow
from ...domain.entries import BlocklistEntry, Kind, Target
from ...domain.lookup import Matches, Page
from ...domain.model import State, UnblockRequest
from ...domain.report import Report
from ..blocks import MAX_BLOCKS, Blocks, actions, button, context, escape, fallback, fit, section, sections
from ..buttons import CHOOSE, HOME_APPROVE, HOME_DENY, LIST_MORE, ChoiceButton, PageButton, RequestButton, of_pbx
from .allows import history_note, home_allows
from .card import approve_confirm
from .common import (
    DESCRIPTION_IN_LIST,
    LABEL,
    RECURRENCE_DAYS,
    RULE_IN_LIST,
    SHOWN_ENTRIES,
    counted,
    describe,
    ended,
    mention,
    pbx_name,
    pbx_tag,
    pickable,
    sentence,
    slack_date,
    times,
    title,
    under_rule,
)

#: how much of a reason a history line shows, in characters before escaping
REASON_IN_LIST = 80


def chooser(asked: str, kind: Kind, matches: Matches, offer_id: str, *, pbx: str = "") -> tuple[str, Blocks]:
    found: Sequence[Target] = matches.blocking
    count = f"{len(found)}{'+' if matches.truncated else ''}"
    things = "caller-number blacklist entries" if kind is Kind.NUMBER else "IP blocklist entries"
    blocks: Blocks = [
        section(f"*{count} {things} match {escape(asked)}.* Which should be unblocked? An approver decides.")
    ]
    blocks += [
        pickable(target, CHOOSE, of_pbx(pbx, ChoiceButton(offer_id, n).encode()))
        for n, target in enumerate(found[:SHOWN_ENTRIES])
    ]
    if len(found) > SHOWN_ENTRIES:
        blocks.append(context(f"…and {len(found) - SHOWN_ENTRIES} more."))
    if matches.truncated:
        blocks.append(context("More entries match than one request can hold; narrow it down after these."))
    every = button(f"Request all {len(found)}", CHOOSE, of_pbx(pbx, ChoiceButton(offer_id, None).encode()))
    blocks.append(actions("unblock_choose_all", every))
    return fallback(f"{count} {things} match {escape(asked)}"), blocks


def listing(text: str | None, page: Page, *, pbx: str = "") -> tuple[str, Blocks]:
    where = f" matching `{fit(text, 64)}`" if text else ""
    if not page.entries:
        none = "No IP blocklist entries" + where + (" on this page." if page.skip else ".")
        return fallback(none), [section(none)]
    first, last = page.skip + 1, page.skip + len(page.entries)
    heading = (
        f"*Newest IP blocklist entries{where}* ({first} to {last}). Unblock a block with `/unblock` and its number."
    )
    blocked = [f"• {_listed(e)}" for e in page.entries if e.blocks]
    allowed = [f"• {_listed(e)}" for e in page.entries if not e.blocks]
    lines = ([f"*Blocks ({len(blocked)})*", *blocked] if blocked else []) + (
        [f"*Allow entries ({len(allowed)})*: these let an address in", *allowed] if allowed else []
    )
    blocks = sections(lines, heading)
    if page.more:
        blocks.append(actions("unblock_list", button("More", LIST_MORE, of_pbx(pbx, PageButton(text, last).encode()))))
    return fallback(f"Newest IP blocklist entries{where}"), blocks


#: how the bot names an approver in the description of an allow entry it adds (``bot.app.ALLOW_DESCRIPTION``)
_APPROVER_IN_DESCRIPTION = re.compile(r"(?<=approved by )Slack user ([UW][A-Z0-9]{2,20})(?=, request )")


def _listed(entry: BlocklistEntry) -> str:
    line = describe(entry, DESCRIPTION_IN_LIST)
    return _APPROVER_IN_DESCRIPTION.sub(r"<@\1>", line) if not entry.blocks else line


def history(
    requests: Sequence[UnblockRequest], everywhere: bool, allows: Mapping[str, Allow] | None = None
) -> tuple[str, Blocks]:
    """The newest requests, each with its allow entry's life when it added one (``allows``, by request)."""
    scope = "" if everywhere else " in this channel"
    if not requests:
        none = f"No unblock requests yet{scope}."
        return none, [section(none)]
    lines = []
    for r in requests:
        where = f" in <#{r.asked.origin}>" if everywhere else ""
        reason = f" · _{fit(r.asked.reason, REASON_IN_LIST)}_" if r.asked.reason else ""
        asked = f"requested by {mention(r.asked.by)}{where}{reason}"
        allowed = f" · {history_note(allows[r.id])}" if allows and r.id in allows else ""
        lines.append(f"• {slack_date(r.asked.at)} {how_it_ended(r)}{allowed} · {asked} · `{r.id}`")
    return fallback(f"Latest unblock requests{scope}"), sections(lines, f"*Latest unblock requests{scope}*")


def how_it_ended(r: UnblockRequest) -> str:
    """``Request to unblock `203.0.113.7` was denied by @bob``: the one pattern of every outcome, after the
    request's PBX when it names one (``acme · Request to unblock…``); then the rule that decides and the approvals
    so far, when there are (`` · rule 'Wide networks' · 1 of 2 approvals``)."""
    return pbx_tag(r.pbx) + " · ".join([f"Request to unblock `{title(r)}` *{ended(r)[1]}*", *under_rule(r)])


INTRO = (
    ":unlock: *unblock-bot* removes entries from 3CX's IP blocklist and caller-number blacklist once an approver "
    "agrees. Ask in a channel with "
    "`/unblock <entry id | address | number> [reason]`."
)
#: how many waiting requests, and how many of the person's own, the tab shows
WAITING_SHOWN = 10
OWN_SHOWN = 10
#: how many allow entries in force the tab shows
ALLOWS_SHOWN = 10


def home_view(
    waiting: Sequence[UnblockRequest] | None,
    own: Sequence[UnblockRequest],
    notice: str | None = None,
    allows: Sequence[tuple[Allow, bool]] = (),
) -> dict[str, Any]:
    """The Home tab: ``waiting`` requests for an approver (None for anyone else), the ``allows`` in force the
    reader may see (each with whether they may end it; no section when there are none), ``own``
    requests, newest first, and a ``notice`` about the person's last click there."""
    blocks: Blocks = [section(INTRO)]
    if notice:
        blocks.append(section(f":information_source: {notice}"))
    if waiting is not None:
        blocks += [{"type": "divider"}, section("*Waiting for approval* (newest first)")]
        if not waiting:
            blocks.append(context("Nothing is waiting for approval."))
        for request in waiting[:WAITING_SHOWN]:
            blocks += _waiting(request)
        if len(waiting) > WAITING_SHOWN:
            blocks.append(context("…and more: see `/unblock history`."))
    if allows:
        blocks += home_allows(allows, ALLOWS_SHOWN)
    blocks += [{"type": "divider"}, section("*Your requests* (newest first)")]
    if own:
        blocks.append(
            section("\n".join(f"• {slack_date(r.asked.at)} {how_it_ended(r)} · `{r.id}`" for r in own[:OWN_SHOWN]))
        )
    else:
        blocks.append(context("You have not asked for an unblock yet."))
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def _waiting(request: UnblockRequest) -> Blocks:
    asks = f"{pbx_tag(request.pbx)}{mention(request.asked.by)} asks to unblock"
    line = f"{asks} *{title(request)}* in <#{request.asked.origin}>"
    decision = request.decision
    if decision.reminded_at is not None or decision.escalation is not None:  # its approvers were reminded
        line = f":hourglass_flowing_sand: *Waiting long{', escalated' if decision.escalation else ''}:* {line}"
    if request.asked.reason:
        line += f" · _{fit(request.asked.reason, REASON_IN_LIST)}_"
    under = under_rule(request, names=True)  # a waiting request: its rule is never the one that carried it out
    line += "\n" + " · ".join([f"Until {slack_date(decision.expires_at)}", *under, f"request `{request.id}`"])
    value = of_pbx(request.pbx, RequestButton(request.id).encode())
    decide = actions(
        f"home_{request.id}",
        button("Approve", HOME_APPROVE, value, "primary", approve_confirm(request)),
        button("Deny", HOME_DENY, value),
    )
    return [section(line), decide]


def decided_notice(request: UnblockRequest) -> str:
    whose = f"{mention(request.asked.by)}'s request to unblock `{title(request)}`"
    if request.state is State.PENDING and request.decision.approvals:
        left = request.decision.needed - len(request.decision.approvals)
        more = "one more approver" if left == 1 else f"{left} more approvers"
        return f"{pbx_tag(request.pbx)}Your approval of {whose} is recorded; it needs {more}."
    return f"{pbx_tag(request.pbx)}{whose} {sentence(ended(request)[1])}"


#: how many approvers the report names (the rest are counted together)
SHOWN_APPROVERS = 20
#: how many of what was blocked again the report names
SHOWN_CAME_BACK = 10
#: the answer to ``/unblock report`` for someone who approves nothing
ONLY_APPROVERS = "Sorry, the report is only for approvers. One of them can share its figures with you."


def report(figures: Report, days: int | None, zone: tzinfo = UTC) -> tuple[str, Blocks]:
    """``/unblock report [days]``: the figures of the last ``days`` days, or (None) the weekly report in its channel
    (dates in ``zone`` where Slack cannot show them in the reader's own)."""
    last = "day" if days == 1 else f"{days} days"
    heading = "Weekly unblock report" if days is None else f"Unblock requests of the last {last}"
    period = f"{slack_date(figures.since, zone)} to {slack_date(figures.until, zone)}"
    blocks: Blocks = [section(f"*{heading}* ({period})")]
    if not figures.total:
        blocks.append(section("No unblock requests were made."))
    else:
        counts = " · ".join(f"{count} {ending}" for ending, count in figures.endings if count)
        blocks.append(section(f"*{figures.total}* request{'' if figures.total == 1 else 's'}: {counts}"))
        if figures.by_pbx:
            blocks.append(section("*By PBX:* " + " · ".join(f"{pbx_name(pbx)} {n}" for pbx, n in figures.by_pbx)))
        blocks.append(section(_timing(figures)))
        blocks += sections(_approvers(figures))
        if figures.top:
            lines = [f"• {pbx_tag(pbx)}{fit(label, LABEL)}: {times(count)}" for (pbx, label), count in figures.top]
            blocks += sections(lines, "*Unblocked most often*")
        if figures.came_back:
            blocks += sections(_came_back(figures), f"*Blocked again within {RECURRENCE_DAYS} days of an unblock*")
    blocks.append(context(f"Reminders sent: {figures.reminders} · escalations: {figures.escalations}"))
    if figures.truncated:
        blocks.append(context(f"More requests were made than one report reads: these are the first {figures.total}."))
    return fallback(f"{heading}: {counted(figures.total, 'request', 'requests')}"), blocks


def _came_back(figures: Report) -> list[str]:
    """Each block that came back after an unblock (asked about again, or found by the watcher), soonest first: how
    soon, and who had unblocked it."""
    lines = []
    for again in figures.came_back[:SHOWN_CAME_BACK]:
        who = f"rule '{fit(again.rule, RULE_IN_LIST)}'" if again.rule else mention(again.by)
        lines.append(f"• {pbx_tag(again.pbx)}{fit(again.label, LABEL)}: {took(again.after)} after {who} unblocked it")
    more = len(figures.came_back) - SHOWN_CAME_BACK
    if more > 0:
        lines.append(f"• and {more} more")
    return lines


def _timing(figures: Report) -> str:
    if figures.median is None or figures.p90 is None:
        return "*Time to a decision:* no request was approved or denied by an approver."
    decided = f"{figures.decided} approved or denied by an approver"
    return f"*Time to a decision* ({decided}): median {took(figures.median)}, 90th percentile {took(figures.p90)}"


def _approvers(figures: Report) -> list[str]:
    if not figures.by_approver and not figures.by_rule:
        return ["*Unblocked by:* nobody."]
    lines = ["*Unblocked by*"]
    lines += [f"• {mention(user)}: {times(count)}" for user, count in figures.by_approver[:SHOWN_APPROVERS]]
    others = figures.by_approver[SHOWN_APPROVERS:]
    if others:
        approvers = counted(len(others), "other approver", "other approvers")
        lines.append(f"• {approvers}: {times(sum(count for _, count in others))}")
    if figures.by_rule:
        lines.append(f"• a rule, without approval: {times(figures.by_rule)}")
    return lines


def took(seconds: float) -> str:
    """A duration for people, rounded to its two largest units: ``40 seconds``, ``4 minutes``, ``1 hour 5
    minutes``, ``2 days 3 hours``."""
    if round(seconds) < 60:
        return duration_words(round(seconds))
    minutes = round(seconds / 60)
    if minutes < 60:
        return duration_words(minutes * 60)
    big, small = (86400, 3600) if minutes >= 24 * 60 else (3600, 60)
    whole, part = divmod(round(seconds / small) * small, big)
    return " ".join(duration_words(words) for words in (whole * big, part) if words)
