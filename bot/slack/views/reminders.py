"""The replies in a card's thread when a request still waits: a reminder to whoever may approve it, and its
escalation to more people; and the card's line that says it was escalated."""

from __future__ import annotations

from ...domain.allowing import duration_words
from ...domain.model import Escalation, UnblockRequest
from ...domain.rules import Approvers
from ..blocks import Blocks, fallback, section
from .common import listed, mention, title
from .refusals import who_approves


def waited(request: UnblockRequest, now: float) -> str:
    """How long the request has waited, in whole minutes (``15 minutes``), or seconds under one."""
    seconds = max(0.0, now - request.asked.at)
    return duration_words(seconds // 60 * 60 if seconds >= 60 else int(seconds))


def reminder_reply(request: UnblockRequest, deciders: Approvers, now: float) -> tuple[str, Blocks]:
    """The reminder: ``<@U1> or a member of <!subteam^S1>: <@U2>'s request to unblock 203.0.113.7 has waited 15
    minutes for a decision.`` (``deciders``: who may approve it now)."""
    who = who_approves(deciders)
    line = (
        f":bell: {who}: {mention(request.asked.by)}'s request to unblock `{title(request)}` has waited "
        f"{waited(request, now)} for a decision. Please approve or deny it on the card."
    )
    return fallback(line.removeprefix(":bell: ")), [section(line)]


def escalated_to(escalation: Escalation) -> str:
    """Who a request was escalated to, for a sentence: ``<@U1> and <!subteam^S1>``."""
    names = [f"<@{user}>" for user in escalation.users] + [f"<!subteam^{group}>" for group in escalation.groups]
    return listed(list(dict.fromkeys(names)))


def escalation_reply(request: UnblockRequest, escalation: Escalation) -> tuple[str, Blocks]:
    """The escalation, naming each person it is escalated to once: ``Escalated to <@U9> after 1 hour: <@U2>'s
    request to unblock 203.0.113.7 still waits for a decision. You may now approve or deny it on the card…``"""
    to = escalated_to(escalation)
    line = (
        f":rotating_light: Escalated to {to} after {duration_words(escalation.after)}: "
        f"{mention(request.asked.by)}'s request to unblock `{title(request)}` still waits for a decision. "
        "You may now approve or deny it on the card, like its approvers."
    )
    return fallback(line.removeprefix(":rotating_light: ")), [section(line)]


def escalation_line(request: UnblockRequest) -> str | None:
    """The card's line: ``Escalated to <@U9> after 1 hour.`` (None: not escalated)."""
    if request.decision.escalation is None:
        return None
    to, after = escalated_to(request.decision.escalation), duration_words(request.decision.escalation.after)
    return f":rotating_light: Escalated to {to} after {after}."
