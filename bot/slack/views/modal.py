"""The form of **Request an unblock** (a modal): what to unblock, why, and where the request goes; and what it
says when something in it cannot be used."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from ..blocks import clip, context
from ..command_text import MAX_REASON

#: the modal's ``callback_id``, which its ``view_submission`` carries
CALLBACK_ID = "unblock_modal"
#: its blocks (``block_id``) and the one element of each (``action_id``)
WHAT, REASON, CHANNEL, PBX = "unblock_what", "unblock_reason", "unblock_channel", "unblock_pbx"
VALUE = "value"
#: what a person may type into "What to unblock" (an id, an address, a network, a number with spaces)
MAX_WHAT = 100
#: a select offers at most this many things found in a message
MAX_OPTIONS = 25

HINT = (
    "An IP blocklist entry id (42), an IP address or network (203.0.113.7, 2001:db8::7, 203.0.113.0/24) or a "
    "caller number (+1 555 0100)."
)
IN_A_DIRECT_MESSAGE = (
    "Requests are posted in a channel, so this shortcut works on messages in channels. Use *Request an unblock* "
    "and pick a channel."
)

#: said on the field when the submission cannot be used
ONE_THING = "Give one entry id, IP address, network or caller number here; the reason goes in the field below."
REASON_REQUIRED = "Please say why it should be unblocked."
CHANNEL_REQUIRED = "Pick the channel where the request should be posted."
CHANNEL_NOT_USABLE = "Pick a channel of this workspace (not a direct message)."
PBX_REQUIRED = "Pick the PBX whose block this is."
NOT_YOURS = "This form was opened by someone else, so nothing was done. Please use the shortcut again."
OUT_OF_DATE = "This form is out of date, so nothing was done. Please use the shortcut again."
NOTHING_FOUND = (
    "The bot found no IP address, network or caller number in that message, so there is nothing to unblock. "
    "Use *Request an unblock* or `/unblock` to name one."
)


def channel_refused(channel: str) -> str:
    return (
        f"The bot cannot post in <#{channel}> (it is not a member, or the channel is not one of this workspace), so "
        "nothing was requested and nothing was changed in 3CX. Invite the bot there, or pick another channel."
    )


def unblock_modal(
    metadata: str,
    *,
    found: Sequence[str] = (),
    require_reason: bool = False,
    pick_channel: bool = False,
    posted_in: str | None = None,
    pbxes: Sequence[str] = (),
) -> dict[str, Any]:
    """The modal: ``found`` (things found in a message) fills in what to unblock, or (several) is offered in a
    select; ``pick_channel``: a channel picker says where the request goes; else ``posted_in`` says it;
    ``pbxes``: a select of the PBXes it may be for, where the channel does not say."""
    if len(found) > 1:
        options = [Option(text=clip(item, 75), value=item) for item in found[:MAX_OPTIONS]]
        select = StaticSelectElement(action_id=VALUE, options=options, placeholder="One of those in the message")
        what = InputBlock(block_id=WHAT, label="What to unblock", element=select, optional=False)
    else:
        typed = PlainTextInputElement(
            action_id=VALUE,
            max_length=MAX_WHAT,
            placeholder="42, 203.0.113.7 or +1 555 0100",
            initial_value=found[0] if found else None,
        )
        what = InputBlock(block_id=WHAT, label="What to unblock", element=typed, hint=HINT, optional=False)
    why = PlainTextInputElement(
        action_id=VALUE, multiline=True, max_length=MAX_REASON, placeholder="For example: the customer's VPN moved"
    )
    blocks: list[Block | dict[str, Any]] = []
    if pbxes:
        options = [Option(text=name, value=name) for name in pbxes[:100]]
        pick = StaticSelectElement(action_id=VALUE, options=options, placeholder="The customer's PBX")
        blocks.append(InputBlock(block_id=PBX, label="PBX", element=pick, optional=False))
    blocks += [
        what,
        InputBlock(block_id=REASON, label="Reason", element=why, optional=not require_reason),
    ]
    if pick_channel:
        channels = ConversationFilter(
            include=["public", "private"], exclude_external_shared_channels=True, exclude_bot_users=True
        )
        picker = ConversationSelectElement(
            action_id=VALUE,
            default_to_current_conversation=True,
            filter=channels,
            placeholder="A channel the bot is in",
        )
        blocks.append(InputBlock(block_id=CHANNEL, label="Post the request in", element=picker, optional=False))
    elif posted_in is not None:
        blocks.append(context(f"The request is posted in <#{posted_in}> for an approver."))
    form = View(
        type="modal",
        callback_id=CALLBACK_ID,
        private_metadata=metadata,
        title="Request an unblock",
        submit="Request",
        close="Cancel",
        blocks=blocks,
    )
    return form.to_dict()
