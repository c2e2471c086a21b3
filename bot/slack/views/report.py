"""The report: ``/unblock report`` (only for the approver who asked) and the weekly report in its channel."""

from __future__ import annotations

from datetime import UTC, tzinfo

from ...domain.allowing import duration_words
from ...domain.report import Report
from ..blocks import Blocks, context, fallback, fit, section, sections
from .common import LABEL, counted, mention, slack_date, times

#: how many approvers the report names (the rest are counted together)
SHOWN_APPROVERS = 20
#: the answer to ``/unblock report`` for someone who approves nothing
ONLY_APPROVERS = "Sorry, the report is only for approvers. One of them can share its figures with you."


def report(figures: Report, days: int, zone: tzinfo = UTC) -> tuple[str, Blocks]:
    """``/unblock report [days]``: the figures of the last ``days`` days (dates in ``zone`` where Slack cannot show
    them in the reader's own)."""
    span = "day" if days == 1 else f"{days} days"
    return _report(figures, f"Unblock requests of the last {span}", zone)


def weekly(figures: Report, zone: tzinfo = UTC) -> tuple[str, Blocks]:
    """The weekly report, posted in the report channel."""
    return _report(figures, "Weekly unblock report", zone)


def _report(figures: Report, heading: str, zone: tzinfo) -> tuple[str, Blocks]:
    period = f"{slack_date(figures.since, zone)} to {slack_date(figures.until, zone)}"
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
        approvers = counted(len(others), "other approver", "other approvers")
        lines.append(f"• {approvers}: {times(sum(count for _, count in others))}")
    if figures.by_rule:
        lines.append(f"• a rule, without approval: {times(figures.by_rule)}")
    return lines


def took(seconds: float) -> str:
    """A duration for people, rounded to its two largest units: ``40 seconds``, ``4 minutes``, ``1 hour 5
    minutes``, ``2 days 3 hours``."""
    whole = round(seconds)
    if whole < 60:
        return duration_words(whole)
    minutes = round(seconds / 60)
    if minutes < 60:
        return duration_words(minutes * 60)
    if minutes < 24 * 60:
        return _and(*divmod(minutes, 60), 3600, 60)
    return _and(*divmod(round(seconds / 3600), 24), 86400, 3600)


def _and(big: int, small: int, big_unit: int, small_unit: int) -> str:
    """``2 days 3 hours``, ``2 days``: two parts of a duration, each in the words of every message."""
    words = duration_words(big * big_unit)
    return f"{words} {duration_words(small * small_unit)}" if small else words
