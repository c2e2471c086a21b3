"""The report: ``/unblock report`` (only for the approver who asked) and the weekly report in its channel."""

from __future__ import annotations

from ...domain.requests import Report
from ..blocks import Blocks, context, fallback, fit, section, sections
from .common import LABEL, mention, slack_date, times

#: how many approvers the report names (the rest are counted together)
SHOWN_APPROVERS = 20
#: the answer to ``/unblock report`` for someone who approves nothing
ONLY_APPROVERS = "Sorry, the report is only for approvers. One of them can share its figures with you."


def report(figures: Report, days: int) -> tuple[str, Blocks]:
    """``/unblock report [days]``: the figures of the last ``days`` days."""
    span = "day" if days == 1 else f"{days} days"
    return _report(figures, f"Unblock requests of the last {span}")


def weekly(figures: Report) -> tuple[str, Blocks]:
    """The weekly report, posted in the report channel."""
    return _report(figures, "Weekly unblock report")


def _report(figures: Report, heading: str) -> tuple[str, Blocks]:
    period = f"{slack_date(figures.since)} to {slack_date(figures.until)}"
    blocks: Blocks = [section(f"*{heading}* ({period})"), section(_endings(figures))]
    if figures.total:
        blocks.append(section(_timing(figures)))
        blocks += sections(_approvers(figures))
        if figures.top:
            lines = [f"• {fit(label, LABEL)}: {times(count)}" for label, count in figures.top]
            blocks += sections(lines, "*Unblocked most often*")
    blocks.append(context(f"Reminders sent: {figures.reminders} · escalations: {figures.escalations}"))
    if figures.truncated:
        blocks.append(context(f"More requests were made than one report reads: these are the first {figures.total}."))
    return fallback(f"{heading}: {figures.total} request{'' if figures.total == 1 else 's'}"), blocks


def _endings(figures: Report) -> str:
    if not figures.total:
        return "No unblock requests were made."
    counts = " · ".join(f"{count} {ending}" for ending, count in figures.endings if count)
    made = f"*{figures.total}* request{'' if figures.total == 1 else 's'}"
    return f"{made}: {counts}"


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
        lines.append(f"• {len(others)} other approvers: {times(sum(count for _, count in others))}")
    if figures.by_rule:
        lines.append(f"• a rule, without approval: {times(figures.by_rule)}")
    return lines


def took(seconds: float) -> str:
    """A duration for people: ``40 s``, ``4 min``, ``1 h 5 min``, ``2 d 3 h``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
