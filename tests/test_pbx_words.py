"""A request's PBX, named in what people read about it when the bot serves several: the card, its outcome, the
messages to the requester and in their channel, the reminders, the allow entries' replies, the Home tab, history,
the report and the watch channel; and, for the one PBX of a bot that serves one (named ""), not a word more."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from bot.domain.actions import Action, Does, Result
from bot.domain.allows import Allow, How, Phase
from bot.domain.entries import BlocklistEntry
from bot.domain.model import Asked, Decision, Done, Escalation, State, UnblockRequest, What
from bot.domain.outcomes import Outcome
from bot.domain.recurrence import Recurrence
from bot.domain.report import DAY, figures
from bot.domain.rules import Approvers
from bot.slack.views import allows, card, evidence, lists, notes, outcome, watch
from bot.slack.views.common import PBX_NAME, pbx_tag

from .fakes.block_kit import problems, view_problems

ALICE, BOB = "UALICE", "UBOB"
AT = 1.7e9
ENTRY = BlocklistEntry(42, "203.0.113.7", "Failed SIP registrations", "Block", "anti-hacking", None)
LINK = "https://example.slack.com/archives/C0GENERAL/p1700000000000100"
#: a request waiting on the PBX named acme
WAITING = UnblockRequest(
    id="0123456789abcdef",
    asked=Asked(ALICE, "C0GENERAL", AT, "VPN moved"),
    what=What((ENTRY,)),
    decision=Decision(AT + 900),
    pbx="acme",
)
UNBLOCKED = replace(
    WAITING,
    decision=Decision(AT + 900, by=BOB, at=AT + 60),
    state=State.UNBLOCKED,
    done=Done(Action(Does.UNBLOCK_AND_ALLOW, 3600.0), (Result(Outcome.DELETED, "HTTP 204", allow_id=9),), AT + 3600),
)
ALLOW = Allow(UNBLOCKED.id, 9, "203.0.113.7", AT + 60, AT + 3660, 3600.0, extended_by=BOB)
ENDED = replace(ALLOW, phase=Phase.ENDED, how=How.END_NOW, ended_by=BOB)

Drawn = str | tuple[str, list[dict[str, Any]]] | dict[str, Any]


#: each view that names a request's PBX, drawn for the PBX of that name
VIEWS: dict[str, Callable[[str], Drawn]] = {
    "card": lambda pbx: card.request_card(replace(WAITING, pbx=pbx), "<@UBOB>", (3600.0,)),
    "reminder": lambda pbx: card.reminder_reply(replace(WAITING, pbx=pbx), Approvers(frozenset({BOB})), AT + 3600),
    "escalation": lambda pbx: card.escalation_reply(replace(WAITING, pbx=pbx), Escalation(AT + 3600, 3600, (BOB,))),
    "outcome": lambda pbx: outcome.outcome_card(replace(UNBLOCKED, pbx=pbx), AT + 120),
    "direct message": lambda pbx: outcome.direct_message(replace(UNBLOCKED, pbx=pbx), LINK),
    "line where asked": lambda pbx: outcome.origin_line(replace(UNBLOCKED, pbx=pbx), LINK, name_requester=True),
    "waiting in": lambda pbx: outcome.waiting_in(replace(WAITING, pbx=pbx), LINK),
    "already requested": lambda pbx: notes.already_requested(replace(WAITING, pbx=pbx), None, None, BOB),
    "allow's warning": lambda pbx: allows.warning(ALLOW, 3600.0, 86400.0, AT + 3000, pbx=pbx),
    "allow extended": lambda pbx: allows.extended(ALLOW, pbx=pbx),
    "allow's end": lambda pbx: allows.ended(ENDED, pbx=pbx),
    "allows in the home tab": lambda pbx: ("Allow entries", allows.home_allows([(replace(ALLOW, pbx=pbx), True)], 5)),
    "home tab": lambda pbx: lists.home_view([replace(WAITING, pbx=pbx)], [replace(UNBLOCKED, pbx=pbx)]),
    "history": lambda pbx: lists.history([replace(UNBLOCKED, pbx=pbx)], everywhere=True),
    "decided in the home tab": lambda pbx: lists.decided_notice(replace(UNBLOCKED, pbx=pbx)),
    "blocked again": lambda pbx: evidence.blocked_again_reply(
        Recurrence(1, replace(UNBLOCKED, pbx=pbx)), AT + DAY, None, asked_by=None, link=LINK
    ),
    "new block": lambda pbx: watch.new_block(ENTRY, pbx=pbx),
    "block gone": lambda pbx: watch.new_block(ENTRY, gone=True, pbx=pbx),
    "unblocked by rule": lambda pbx: watch.unblocked_by_rule(ENTRY, "Anti-hacking", pbx=pbx),
    "burst": lambda pbx: watch.burst([ENTRY, replace(ENTRY, id=43)], pbx=pbx),
    "unblocking": lambda pbx: watch.unblocking([ENTRY], ["Anti-hacking"], pbx=pbx),
    "unblocked": lambda pbx: watch.unblocked([ENTRY], [replace(UNBLOCKED, pbx=pbx)], AT + 120, pbx=pbx),
    "none unblocked": lambda pbx: watch.unblocked([ENTRY], [], AT + 120, pbx=pbx),
}


def text(drawn: Drawn) -> str:
    return json.dumps(drawn, ensure_ascii=False)


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_names_the_pbx_before_what_it_says_and_says_nothing_else_new(view: str) -> None:
    named, unnamed = text(VIEWS[view]("acme")), text(VIEWS[view](""))

    assert "acme · " in named
    # (a button that names no request says its PBX in its value: ``acme/42``)
    assert named.replace("acme · ", "").replace('"value": "acme/', '"value": "') == unnamed
    assert "acme" not in unnamed and " · Request to unblock" not in unnamed


@pytest.mark.parametrize("view", VIEWS)
def test_the_longest_name_keeps_slacks_limits(view: str) -> None:
    drawn = VIEWS[view]("n" + "9" * (PBX_NAME - 1))
    if isinstance(drawn, dict):
        assert view_problems(drawn) == []
    elif isinstance(drawn, tuple):
        assert problems({"text": drawn[0], "blocks": drawn[1]}) == []
    assert "n" + "9" * (PBX_NAME - 1) + " · " in text(drawn)


def test_the_card_and_its_outcome_name_the_pbx_in_their_headline_and_in_the_notification() -> None:
    fallback, blocks = card.request_card(WAITING, "<@UBOB>")
    assert blocks[0]["text"]["text"] == ":unlock: *acme · <@UALICE> asks to unblock 203.0.113.7*"
    assert fallback == "acme · <@UALICE> asks to unblock 203.0.113.7"
    fallback, _ = outcome.direct_message(UNBLOCKED, LINK)
    assert fallback.startswith("acme · Your request to unblock 203.0.113.7 was approved by <@UBOB>")


def test_a_name_is_shown_as_text_whatever_it_holds() -> None:
    assert pbx_tag("") == ""
    assert pbx_tag("a<b>") == "a&lt;b&gt; · "
    assert pbx_tag("x" * 40) == "x" * (PBX_NAME - 1) + "… · "


def report(pbx: str) -> tuple[str, list[dict[str, Any]]]:
    """The report of a week in which what a request unblocked on the PBX named ``pbx`` came back a day later."""
    unblocked = replace(UNBLOCKED, pbx=pbx)
    again = replace(
        unblocked, id="fedcba9876543210", asked=replace(UNBLOCKED.asked, at=AT + 60 + DAY), state=State.PENDING
    )
    return lists.report(figures([again], AT, AT + 7 * DAY, unblocks=[unblocked]), 7)


def test_the_report_names_the_pbx_of_what_came_back_and_counts_the_requests_of_each_pbx() -> None:
    named, unnamed = text(report("acme")), text(report(""))

    assert "• acme · 203.0.113.7: 1 day after <@UBOB> unblocked it" in named
    assert "*By PBX:* acme 1" in named
    assert "• 203.0.113.7: 1 day after <@UBOB> unblocked it" in unnamed
    assert "acme" not in unnamed and "By PBX" not in unnamed
    longest = "n" + "9" * (PBX_NAME - 1)
    assert problems({"text": report(longest)[0], "blocks": report(longest)[1]}) == []
