"""Why a command or a click does nothing, in the words people read (the policy and the service give the
reason; each is worded here, once)."""

from __future__ import annotations

from ...domain.results import Refusal, Why
from ...domain.rules import Approvers
from ..blocks import fit
from .common import RULE, listed

#: why a click on a card from another channel changes nothing
ELSEWHERE = "This button belongs to a request made in another channel, so it does nothing here."
#: why an Undo after its window changes nothing
TOO_LATE_TO_UNDO = "It is too late to undo this; if needed, an admin can add the entry again by hand in 3CX."
#: why Approve and allow does nothing for a request it was not offered for
NOT_ALLOWABLE = (
    "Approve and allow is only for one IP address, or a network no wider than /24 (IPv6: /64); nothing was changed."
)
NOTHING_TO_UNDO = "There is nothing to undo: this request removed nothing from 3CX."


def who_approves(approvers: Approvers) -> str:
    """The approvers, for a sentence: ``<@U1>, <@U2> or a member of <!subteam^S1>``."""
    if approvers.anyone:
        return "anyone in this workspace"
    names = [f"<@{u}>" for u in sorted(approvers.users)]
    names += [f"a member of <!subteam^{g}>" for g in sorted(approvers.groups)]
    return listed(names, last="or")


def refusal(why: Refusal) -> str:
    """The sentence that says why."""
    match why.why:
        case Why.CHANNEL_NOT_ENABLED:
            listed = ", ".join(f"<#{c}>" for c in why.channels)
            return f"/unblock is not enabled in this channel. Please use it in {listed}."
        case Why.NOT_APPROVER:
            what = "an unblock request" if why.verb == "deny" else "an unblock"
            whose = f"the approvers of rule '{fit(why.rule, RULE)}'" if why.rule else "the approvers"
            return f"Only {whose} can {why.verb} {what}: {who_approves(why.approvers or Approvers())}."
        case Why.OWN_REQUEST:
            return f"You asked for this unblock, so someone else has to {why.verb} it."
        case Why.USE_CANCEL:
            return "You asked for this unblock, so you cannot deny it; to call it off, use Cancel."
        case Why.NOT_REQUESTER:
            return f"Only <@{why.requester}>, who asked, can cancel this request; an approver can deny it instead."
        case Why.OTHER_CHANNEL:
            return ELSEWHERE
        case Why.NOTHING_TO_UNDO:
            return NOTHING_TO_UNDO
        case Why.TOO_LATE_TO_UNDO:
            return TOO_LATE_TO_UNDO
        case Why.NOT_ALLOWABLE:
            return NOT_ALLOWABLE
        case Why.ALREADY_APPROVED:
            return (
                f"You have approved this already. It needs {why.approvals_needed} approvals, so another approver"
                f" has to approve it too: {who_approves(why.approvers or Approvers())}."
            )
