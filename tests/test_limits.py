"""Slack's limits hold for any text 3CX or a person supplies, and Slack's rate limits lose nothing.

The fake Slack checks every message the bot sends against Slack's documented limits (``tests/fakes/
block_kit.py``) and refuses it as Slack would; the ``slack`` fixture fails a test that sent one it refused.
Here, besides the flows, every message the bot can build is checked for any data 3CX could send.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.domain.actions import Action, Does, Result
from bot.domain.entries import BlockedNumber, BlocklistEntry, Kind
from bot.domain.evidence import Evidence, Logged, Phone, Thresholds
from bot.domain.lookup import Matches, Page
from bot.domain.model import Approval, Asked, Decision, Done, State, UnblockRequest, What
from bot.domain.outcomes import Outcome
from bot.domain.recurrence import Recurrence
from bot.slack.buttons import APPROVE, CHOOSE, LIST_MORE, UNDO, BurstButton, PageButton
from bot.slack.views import lists, notes, outcome, watch
from bot.slack.views.card import request_card
from bot.slack.views.evidence import blocked_again_reply
from bot.threecx.errors import ForbiddenError, UnexpectedResponseError

from .conftest import MakeHarness
from .fakes.block_kit import problems, view_problems
from .harness import ALICE, BOB, CAROL, Harness, block_text, buttons, wait_for
from .test_watch import WATCH, announced, look, watching

HOSTILE = "&<>*_`~<!channel> <@U1> " * 200  # every character escaping lengthens, and more


def long(text: str, size: int) -> str:
    return (text * (size // len(text) + 1))[:size]


# through the app ---------------------------------------------------------------------------------------


async def test_a_listing_of_long_entries_shows_every_entry_it_read_and_continues_after_them(harness: Harness) -> None:
    del harness.pbx.entries[42]
    for n in range(1, 31):
        harness.pbx.add_entry(n, f"198.51.100.{n}", description=long(HOSTILE, 1900))

    _, response_url = await harness.command("list")
    await harness.settle()
    [page] = harness.slack.posts_to(response_url)
    shown = [int(n) for n in re.findall(r"entry (\d+) ·", block_text(page.body["blocks"]))]
    [more] = [b for b in buttons(page.body["blocks"]) if b["action_id"] == LIST_MORE]

    assert shown == list(range(30, 15, -1))  # the 15 newest, every one of them
    assert PageButton.decode(more["value"]) == PageButton(None, 15)
    _, next_url = await harness.click(LIST_MORE, more["value"], user=ALICE)
    await harness.settle()
    [next_page] = harness.slack.posts_to(next_url)
    assert [int(n) for n in re.findall(r"entry (\d+) ·", block_text(next_page.body["blocks"]))] == list(
        range(15, 0, -1)
    )


async def test_unblock_all_of_many_long_number_ids_carries_only_an_id_on_its_buttons(harness: Harness) -> None:
    for n in range(50):
        harness.pbx.add_number(f"n{n:02d}-" + "x" * 190, "+15550100", long(HOSTILE, 300))

    _, response_url = await harness.command("number +1 555 0100")
    await harness.settle()
    [offer] = harness.slack.posts_to(response_url)
    every = buttons(offer.body["blocks"])[-1]
    assert every["text"]["text"] == "Request all 50" and len(every["value"]) < 40
    await harness.click(CHOOSE, every["value"], user=ALICE)
    await harness.settle()

    [card] = harness.cards()
    request = await harness.request_for(card)
    assert len(request.what.targets) == 50


async def test_a_card_slack_refuses_leaves_no_pending_request_behind(harness: Harness) -> None:
    harness.slack.fail_next("chat.postMessage", "is_archived")

    _, response_url = await harness.command("42")
    await harness.settle()

    [note] = harness.notes(response_url)
    assert "could not post the request in this channel (Slack said: is_archived)" in note
    assert "nothing was requested" in note
    _, again = await harness.command("42")  # the entry is not held by an invisible request
    await harness.settle()
    assert len(harness.cards()) == 1 and harness.notes(again) == []


# text from 3CX is escaped in a message's plain text as in its blocks -------------------------------------

#: what whoever can write a 3CX entry might put in its address or description: an @channel, a mention, a link
INJECTED = "<!channel> <@UADMIN> <https://evil.example|click>"
RAW = ("<!channel>", "<@UADMIN>", "<https://evil.example")


def unescaped(harness: Harness) -> list[str]:
    """The tokens of ``RAW`` in what the bot sent Slack that Slack reads as formatting: every Web API call's
    arguments and every reply through a response URL, but for plain text objects, which Slack shows as they are."""
    sent = [call.args for call in harness.slack.calls] + [post.body for post in harness.slack.response_posts]
    return [token for message in sent for token in RAW if token in json.dumps(formatted(message))]


def formatted(node: Any) -> Any:
    if isinstance(node, dict):
        return None if node.get("type") == "plain_text" else {key: formatted(value) for key, value in node.items()}
    return [formatted(item) for item in node] if isinstance(node, list) else node


async def test_an_entry_with_markup_reaches_no_message_text_unescaped(harness: Harness) -> None:
    """Nor does a description of 5,000 characters full of markup break a limit of the card, its outcome or the
    failed undo's words."""
    harness.pbx.add_entry(77, INJECTED, description=INJECTED + long(HOSTILE, 5000))

    request = await harness.open_card("77 " + long("reason & <why> ", 290))
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()
    harness.pbx.forbidden = True  # the undo fails: its note describes the entry for an admin
    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()

    assert (await harness.stored(request)).state is State.UNDO_FAILED
    [card] = harness.cards()
    directs = harness.cards(ALICE)  # unblocked, then the undo that failed
    assert "&lt;!channel&gt; &lt;@UADMIN&gt;" in card.text and all("&lt;!channel&gt;" in m.text for m in directs)
    assert "&lt;https://evil.example|click&gt;" in block_text(card.blocks) and len(card.text) < 1000
    assert "the undo by <@UCAROL> could not block it again" in block_text(card.blocks)
    assert unescaped(harness) == []


async def test_a_watched_entry_with_markup_reaches_no_announcement_text_unescaped(make_harness: MakeHarness) -> None:
    harness = await watching(make_harness)
    harness.pbx.add_entry(57, INJECTED, description=INJECTED)
    await look(harness)
    [announcement] = announced(harness)
    assert announcement.text == "3CX blocked &lt;!channel&gt; &lt;@UADMIN&gt; &lt;https://evil.example|click&gt;"

    del harness.pbx.entries[57]
    await look(harness)

    [gone] = announced(harness)
    assert gone.text.startswith("&lt;!channel&gt;") and gone.text.endswith("is no longer blocked")
    assert unescaped(harness) == []


# every message, for any data ------------------------------------------------------------------------------

#: short text of any characters, and long texts of the kinds that break limits (many escapes, wide characters)
LONG = [long(HOSTILE, 2500), long("é<", 5000), long("a&", 4001), long("x", 2001)]
any_text = st.one_of(st.none(), st.text(max_size=50), st.sampled_from(LONG))
some_text = any_text.map(lambda t: t or "x")


#: the rules' names are the operator's: any text, up to about 200 characters (and the kinds that break limits)
rule_names = st.one_of(st.text(min_size=1, max_size=200), st.sampled_from([long(HOSTILE, 200), long("é<", 200)]))
#: approvers, with ids as long as Slack's get
APPROVERS = ["U0SEC1", "U0SEC2", "W" + "X" * 20, BOB, CAROL]
expiries = st.sampled_from([None, "2026-12-01T08:00:00.0000000+00:00", "0001-01-01T00:00:00Z", "junk"])
entries = st.builds(BlocklistEntry, st.integers(1, 2**31 - 1), any_text, any_text, any_text, any_text, expiries)
numbers = st.builds(BlockedNumber, some_text.map(lambda t: t[:200]), any_text, any_text)
ids = st.one_of(st.none(), st.integers(1, 2**31 - 1))
until = st.sampled_from([None, 1.8e9])
results = st.builds(Result, st.sampled_from(Outcome), some_text, st.none(), st.booleans(), ids, until, st.booleans())
#: Approve, Approve and allow, Allow only
allowing = st.builds(
    Action, st.sampled_from([Does.UNBLOCK_AND_ALLOW, Does.ALLOW_ONLY]), st.sampled_from([3600.0, 90 * 86400.0])
)
actions = st.one_of(st.just(Action()), allowing)
targets = st.one_of(st.lists(entries, min_size=1, max_size=15), st.lists(numbers, min_size=1, max_size=15))
#: what 3CX knows about an address: its text is 3CX's, any length, hostile
logged = st.builds(Logged, st.one_of(st.none(), st.just(1.7e9)), some_text, st.booleans(), any_text)
phones = st.builds(Phone, any_text, any_text, any_text)
thresholds = st.builds(Thresholds, st.one_of(st.none(), st.integers(0, 2**31 - 1)), st.none())
evidence = st.builds(
    Evidence,
    st.one_of(st.none(), st.lists(logged, max_size=3).map(tuple)),
    st.one_of(st.none(), st.lists(phones, max_size=20).map(tuple)),
    st.one_of(st.none(), thresholds),
)
requests = st.builds(
    UnblockRequest,
    id=st.just("0123456789abcdef"),
    asked=st.builds(
        Asked,
        by=st.just(ALICE),
        channel=st.just("C0GENERAL"),
        at=st.just(1.7e9),
        reason=st.one_of(st.none(), st.text(min_size=1, max_size=300)),
        elsewhere=st.sampled_from([None, "C0ASKED"]),
    ),
    what=st.builds(
        What,
        targets=targets.map(tuple),
        address=st.one_of(st.none(), st.just("203.0.113.7"), st.text(max_size=50)),
        evidence=st.one_of(st.none(), evidence),
    ),
    decision=st.builds(
        Decision,
        expires_at=st.just(1.7e9 + 900),
        rule=st.one_of(st.none(), rule_names),
        auto=st.booleans(),
        needed=st.integers(1, 10),
        approvals=st.lists(st.builds(Approval, st.sampled_from(APPROVERS), actions), max_size=10).map(tuple),
        by=st.sampled_from([None, BOB]),
        at=st.just(1.7e9 + 1),
    ),
    state=st.sampled_from(State),
    done=st.builds(
        Done,
        action=actions,
        results=st.lists(results, max_size=15).map(tuple),
        undo_until=until,
        undone_by=st.just(CAROL),
        undone_at=st.just(1.7e9 + 2),
        undo_results=st.lists(results, max_size=15).map(tuple),
    ),
    #: the one PBX of a bot that serves one, and a PBX's name of the most characters the PBXes file allows
    pbx=st.sampled_from(["", "n" + "9" * 23]),
)


#: the durations Approve and allow offers, the most there may be
DURATIONS = tuple(float(60 * n) for n in range(1, 11))


def valid(text: str, blocks: list[dict[str, object]]) -> None:
    assert problems({"text": text, "blocks": blocks}) == []


#: whatever is drawn: the Undo of Allow only, and the list lines of failed requests under a rule, full of escapes
#: and together too long for one section, so cut between escapes
ALLOWED_ONLY = UnblockRequest(
    id="0123456789abcdef",
    asked=Asked(ALICE, "C0GENERAL", 1.7e9, long("&<>", 300)),
    what=What((BlocklistEntry(7, HOSTILE, HOSTILE, None, None, None),), "198.51.100.7"),
    decision=Decision(1.7e9 + 900, by=BOB, at=1.7e9 + 1),
    state=State.UNBLOCKED,
    done=Done(Action(Does.ALLOW_ONLY, 3600.0), (Result(Outcome.ALLOWED, long(HOSTILE, 2500), allow_id=9),), 1.8e9),
)
FAILED_UNDER_A_RULE = replace(
    ALLOWED_ONLY,
    what=What(ALLOWED_ONLY.what.targets),
    decision=Decision(1.7e9, rule=HOSTILE),
    state=State.FAILED,
    done=Done(),
)


@given(requests)
@example(ALLOWED_ONLY)
@example(FAILED_UNDER_A_RULE)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.data_too_large])
def test_every_card_of_any_request_keeps_slacks_limits(request: UnblockRequest) -> None:
    valid(*request_card(request, "<@UBOB>, <@UCAROL> or a member of <!subteam^SHELPDESK>", DURATIONS, 86400.0))
    if request.state is not State.PENDING:
        valid(*outcome.outcome_card(request, 1.7e9 + 5))
    valid(lists.decided_notice(request), [])
    link = "https://acme.slack.com/archives/C0GENERAL/p1700000000000100"
    again = Recurrence(3, request)
    logged = request.what.evidence.logged if request.what.evidence else None
    valid(*blocked_again_reply(again, 1.7e9 + 5, logged, asked_by=BOB, link=link))
    if request.state in outcome.TOLD:
        valid(*outcome.direct_message(request, link))
        valid(*outcome.origin_line(request, None))
    valid(outcome.waiting_in(request, link), [])
    many = [replace(request, id=f"{n:016x}") for n in range(11)]
    assert view_problems(lists.home_view(many, many[:10], outcome.waiting_in(request, link))) == []
    valid(*lists.history([request] * 50, everywhere=True))
    already = notes.already_requested(request, "1700000000.000100", "https://acme.slack.com/", "UBOB")
    for note in (notes.already_resolved(request), already):
        valid(note, [])


@given(requests, st.lists(entries, min_size=1, max_size=500), st.integers(0, 600))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.data_too_large])
def test_every_message_of_a_burst_unblocked_by_the_rules_keeps_slacks_limits(
    request: UnblockRequest, found: list[BlocklistEntry], skip: int
) -> None:
    many = [
        replace(request, id=f"{n:016x}", what=What((entry,)), asked=replace(request.asked, channel=WATCH))
        for n, entry in enumerate(found)
    ]
    valid(*watch.unblocking(found, [r.decision.rule for r in many]))
    valid(*watch.unblocked(found, many, 1.7e9 + 5))
    ids = BurstButton(min(e.id for e in found), max(e.id for e in found), skip)
    valid(*watch.unblocked_page(ids, watch.in_burst(many, ids, WATCH), 1.7e9 + 5))


@given(st.lists(entries, min_size=1, max_size=50), st.booleans(), st.integers(0, 100_000), any_text, some_text)
@settings(max_examples=100, deadline=None)
def test_every_listing_chooser_and_failure_note_keeps_slacks_limits(
    found: list[BlocklistEntry], more: bool, skip: int, detail: str | None, what: str
) -> None:
    valid(*lists.listing("x" * 64, Page(tuple(found[:15]), skip, more)))
    valid(*lists.chooser("203.0.113.7", Kind.ADDRESS, Matches(tuple(found), truncated=more), "0123456789abcdef"))
    for error in (ForbiddenError("no", status=403, detail=detail), UnexpectedResponseError("odd", detail=detail)):
        valid(notes.lookup_failure(error, what[:100]), [])
    valid(notes.card_not_posted(what), [])


# Slack's rate limits ---------------------------------------------------------------------------------------


async def test_a_persons_note_never_waits_behind_another_persons_in_the_same_channel(harness: Harness) -> None:
    slow, slow_url = harness.command_body("998", user=CAROL)
    harness.slack.hold(slow_url)  # Carol's reply URL hangs
    assert (await harness.post_signed(slow)).status == 200
    await wait_for(lambda: harness.slack.holding == [slow_url], what="Carol's note on its way")

    reply, url = await harness.command("999", user=ALICE)

    assert reply.status == 200
    await wait_for(lambda: len(harness.slack.posts_to(url)) == 1, what="Alice's note, while Carol's hangs")
    assert "999" in harness.slack.posts_to(url)[0].body["text"]
    harness.slack.release(slow_url)
    await harness.settle()
    assert "998" in harness.slack.posts_to(slow_url)[0].body["text"]


async def test_a_burst_in_one_channel_loses_no_card_and_an_approval_shows_first(harness: Harness) -> None:
    request = await harness.open_card()
    for n in range(100, 120):
        harness.pbx.add_entry(n, f"198.51.100.{n - 100}")
    # Slack allows about one message a second per channel; four keeps this test short, with the same 429s
    harness.slack.limit_rate(per_second=4.0, burst=4)

    await asyncio.gather(*(harness.command(str(n), user=CAROL) for n in range(100, 120)))
    await asyncio.sleep(0.5)  # the burst is under way
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    assert len(harness.cards()) == 21  # every card, none lost to a 429
    accepted = harness.slack.accepted
    outcome = max(i for i, (method, _) in enumerate(accepted) if method == "chat.update")
    cards_after = sum(method == "chat.postMessage" for method, _ in accepted[outcome:])
    assert cards_after >= 10, f"the outcome waited behind {20 - cards_after} of the 20 new cards"
    assert "203.0.113.7 was approved by <@UBOB>, and it is unblocked" in block_text(harness.cards()[0].blocks)
    assert len(harness.slack.calls_to("chat.postMessage")) > 21  # Slack did say "slow down"
