"""Hostile input: arbitrary command text, forged and tampered buttons, replayed signatures and Slack's retries
(bad and stale signatures: test_signature.py). Never a crash, never a 3CX call the rules do not allow."""

from __future__ import annotations

import ipaddress
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.entries import MAX_ENTRY_ID
from bot.domain.model import State
from bot.slack.buttons import APPROVE, CANCEL, CHOOSE, DENY, LIST_MORE, UNDO
from bot.slack.command_text import (
    InvalidCommand,
    ListEntries,
    ShowHelp,
    ShowHistory,
    UnblockAddress,
    UnblockEntry,
    UnblockNumber,
    parse_command,
)

from .harness import ALICE, BOB, MALLORY, Harness, sign

SHARED_FIXTURE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text_like = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=301, max_size=2000),
    st.from_regex(r"(number |list |history )?[-+0-9a-fA-F:./() ]{0,40}( [\x00-\x1f\x7f]{0,5}.{0,20})?", fullmatch=True),
    st.sampled_from(["42", "203.0.113.7", "+15550100", "number 555", "list", "history 3", "help"]).map(
        lambda base: base + " " + "\u202e\x00\t<!channel>`*_~"
    ),
)


@given(text_like)
@settings(max_examples=200, deadline=None)
def test_the_parser_accepts_or_explains_anything(text: str) -> None:
    try:
        command = parse_command(text)
    except InvalidCommand as error:
        message = error.message
        assert 0 < len(message) < 600
        assert "<!" not in message and "\x00" not in message  # nothing of the input can ping or break a message
        return
    if isinstance(command, UnblockEntry):
        assert 1 <= command.entry_id <= MAX_ENTRY_ID
    elif isinstance(command, UnblockAddress):
        assert isinstance(command.network, ipaddress.IPv4Network | ipaddress.IPv6Network)
    elif isinstance(command, UnblockNumber):
        digits = command.number.removeprefix("+")
        assert digits.isascii() and digits.isdigit() and 3 <= len(digits) <= 20
    elif isinstance(command, ListEntries):
        assert command.text is None or (len(command.text) <= 64 and command.text.isprintable())
    else:
        assert isinstance(command, ShowHelp | ShowHistory)
    reason = getattr(command, "reason", None)
    assert reason is None or (len(reason) <= 300 and reason.isprintable())


@given(text=text_like)
@SHARED_FIXTURE
async def test_any_command_text_through_the_app_is_answered_and_calls_3cx_only_to_read(
    harness: Harness, text: str
) -> None:
    reply, response_url = await harness.command(text[:4000], user=MALLORY)
    await harness.settle()

    assert reply.status == 200
    assert reply.message or harness.notes(response_url)  # an answer, at once or just after
    assert all(r.method in ("GET", "POST") for r in harness.pbx.requests)
    assert all(r.method == "GET" or r.path == "/connect/token" for r in harness.pbx.requests)


@given(
    action=st.sampled_from([APPROVE, DENY, CANCEL, UNDO, CHOOSE, LIST_MORE]),
    value=st.one_of(
        st.text(max_size=2100),
        st.sampled_from(["", "0" * 16, "f" * 16, "../" * 10, "1e3", "null", "[]", "{}"]),
        st.builds(
            lambda ids, reason, kind: json.dumps({"k": kind, "ids": ids, "r": reason}),
            st.lists(st.one_of(st.integers(-5, 2**32), st.text(max_size=5)), max_size=60),
            st.one_of(st.none(), st.text(max_size=400)),
            st.sampled_from(["address", "number", "other"]),
        ),
        st.builds(
            lambda t, s: json.dumps({"t": t, "s": s}),
            st.one_of(st.none(), st.text(max_size=80)),
            st.one_of(st.integers(-10, 10**6), st.text(max_size=3)),
        ),
    ),
)
@SHARED_FIXTURE
async def test_forged_buttons_from_someone_who_may_not_approve_change_nothing(
    harness: Harness, action: str, value: str
) -> None:
    reply, _ = await harness.click(action, value, user=MALLORY)
    await harness.settle()

    assert reply.status == 200
    assert [r for r in harness.pbx.requests if r.method == "DELETE" or r.path.startswith("/xapi/v1/Black")] == []
    assert [r for r in harness.pbx.requests if r.method == "POST" and r.path != "/connect/token"] == []


async def test_tampered_request_ids_only_reach_what_the_rules_allow(harness: Harness) -> None:
    pending = await harness.open_card("42")
    harness.pbx.add_entry(43, "198.51.100.4")
    other = await harness.open_card("43")
    await harness.click(DENY, other, user=BOB)
    await harness.settle()

    for value in (other.id, "0123456789abcdef", pending.id.upper(), pending.id + " ", pending.id[:-1]):
        _, url = await harness.click(APPROVE, value, user=BOB)
        await harness.settle()
        assert harness.notes(url)  # told why nothing happened
    await harness.click(APPROVE, pending.id, user=MALLORY)
    await harness.settle()

    assert harness.pbx.calls("DELETE") == []
    assert (await harness.stored(other)).state is State.DENIED
    assert (await harness.stored(pending)).state is State.PENDING


async def test_slack_retrying_a_command_does_not_make_a_second_request_and_a_replay_is_refused(
    harness: Harness,
) -> None:
    body, _ = harness.command_body("42", user=ALICE)
    stamp = int(harness.clock())
    signature = sign(body, str(stamp))
    retried = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}

    first = await harness.post_signed(body, timestamp=stamp, signature=signature)
    replayed = await harness.post_signed(body, timestamp=stamp, signature=signature)
    same = await harness.post_signed(body, timestamp=stamp, signature=signature, headers=retried)
    resigned = await harness.post_signed(body, timestamp=stamp + 1, headers={**retried, "X-Slack-Retry-Num": "2"})
    await harness.settle()

    assert (first.status, replayed.status, same.status, resigned.status) == (200, 401, 200, 200)
    assert len(harness.cards()) == 1
    assert len(harness.pbx.calls("GET", "/xapi/v1/Blocklist")) == 1


async def test_a_signed_command_with_bolts_own_lazy_header_is_answered_as_any_other(harness: Harness) -> None:
    """``X-Slack-Bolt-Lazy-Only`` is Bolt's own header (for its lazy listeners), never Slack's: a signed request
    that carries it is still acknowledged by the listener and does its work."""
    body, _ = harness.command_body("42", user=ALICE)
    lazy = {"X-Slack-Bolt-Lazy-Only": "1", "X-Slack-Bolt-Lazy-Function-Name": "unblock_command"}

    reply = await harness.post_signed(body, headers=lazy)
    await harness.settle()

    assert reply.status == 200
    assert len(harness.cards()) == 1
    assert [r.path for r in harness.pbx.calls("GET", "/xapi/v1/Blocklist")] == ["/xapi/v1/Blocklist(42)"]
