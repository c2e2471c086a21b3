"""Why a command or a click does nothing, in the words people read: each reason of the policy and the service
worded as it always was."""

from __future__ import annotations

import pytest

from bot.domain.policy import Approvers, Refusal, Why
from bot.slack.views.refusals import refusal, who_approves

APPROVERS = Approvers(users=frozenset({"UBOB", "UCAROL"}), groups=frozenset({"SHELPDESK"}))


@pytest.mark.parametrize(
    ("why", "words"),
    [
        (Refusal(Why.CHANNEL_NOT_ENABLED, channels=("C1", "C2")),
         "/unblock is not enabled in this channel. Please use it in <#C1>, <#C2>."),
        (Refusal(Why.NOT_APPROVER, "approve", approvers=APPROVERS),
         "Only the approvers can approve an unblock: <@UBOB>, <@UCAROL> or a member of <!subteam^SHELPDESK>."),
        (Refusal(Why.NOT_APPROVER, "undo", approvers=Approvers(users=frozenset({"UBOB"}))),
         "Only the approvers can undo an unblock: <@UBOB>."),
        (Refusal(Why.NOT_APPROVER, "approve", approvers=Approvers(users=frozenset({"UBOB"})), rule="<!channel> & co"),
         "Only the approvers of rule '&lt;!channel&gt; &amp; co' can approve an unblock: <@UBOB>."),
        (Refusal(Why.NOT_APPROVER, "deny", approvers=Approvers(anyone=True)),
         "Only the approvers can deny an unblock request: anyone in this workspace."),
        (Refusal(Why.OWN_REQUEST, "approve"), "You asked for this unblock, so someone else has to approve it."),
        (Refusal(Why.USE_CANCEL), "You asked for this unblock, so you cannot deny it; to call it off, use Cancel."),
        (Refusal(Why.NOT_REQUESTER, "cancel", requester="UALICE"),
         "Only <@UALICE>, who asked, can cancel this request; an approver can deny it instead."),
        (Refusal(Why.OTHER_CHANNEL),
         "This button belongs to a request made in another channel, so it does nothing here."),
        (Refusal(Why.NOTHING_TO_UNDO), "There is nothing to undo: this request removed nothing from 3CX."),
        (Refusal(Why.TOO_LATE_TO_UNDO),
         "It is too late to undo this; if needed, an admin can add the entry again by hand in 3CX."),
        (Refusal(Why.NOT_ALLOWABLE), "Approve and allow is only for one IP address, or a network no wider than /24 "
         "(IPv6: /64); nothing was changed."),
    ],
)  # fmt: skip
def test_each_reason_in_its_words(why: Refusal, words: str) -> None:
    assert refusal(why) == words


def test_every_reason_has_words() -> None:
    for why in Why:
        assert refusal(Refusal(why, "approve", approvers=APPROVERS))


def test_one_approver_is_named_alone() -> None:
    assert who_approves(Approvers(groups=frozenset({"SHELPDESK"}))) == "a member of <!subteam^SHELPDESK>"
