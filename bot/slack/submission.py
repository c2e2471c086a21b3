"""The form's submission read: who opened it, on which message's channel and for which PBX (what the form
carries, ``private_metadata``: ``<user>|<channel>[|<pbx>]``, the PBX ``*`` where the form asks which), and what
it asks for; or the errors to show on its fields. A submission is taken only from the person who opened the form,
with values for the form's own blocks and nothing else."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .answers import Asker, asker_of
from .command_text import (
    InvalidCommand,
    Unblock,
    UnblockAddress,
    UnblockEntry,
    UnblockNumber,
    parse_command,
    parse_reason,
)
from .fleet import Fleet
from .ids import PBX_NAME, USER_ID
from .use_cases import UseCases
from .views import modal as form
from .views.notes import only_this_pbx
from .views.notes import refusal as words

Payload = dict[str, Any]
#: a channel a request may be posted in: public (C) or private (G), never a direct message
CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,20}$")
#: a PBX's name in what the form carries, or ``*`` (the form asks which)
PBX_SAID = re.compile(f"\\*|{PBX_NAME.pattern}|")


def opened_by(text: Any) -> tuple[str, str, str | None] | None:
    """Who opened the form, on which message's channel, and for which PBX (None: the form asks), from what it
    carries; None when it is not the bot's."""
    parts = text.split("|") if isinstance(text, str) and len(text) <= 96 else []
    if len(parts) == 2:
        parts.append("")
    if len(parts) != 3:
        return None
    user, channel, pbx = parts
    if not USER_ID.match(user) or (channel and not CHANNEL.match(channel)) or not PBX_SAID.fullmatch(pbx):
        return None
    return user, channel, None if pbx == "*" else pbx


def metadata(user: str, channel: str, fleet: Fleet, pbx: str | None) -> str:
    """What the form carries: who opened it, on which message's channel, for which PBX (``*``: the form asks)."""
    return f"{user}|{channel}" if fleet.one is not None else f"{user}|{channel}|{'*' if pbx is None else pbx}"


def check_submission(body: Payload, view: Payload, fleet: Fleet) -> dict[str, str] | tuple[Unblock, Asker, UseCases]:
    """What the submission asks for, who asks where, and of which PBX; or the errors to show on the form's
    fields."""
    user = str((body.get("user") or {}).get("id", ""))
    opened = opened_by(view.get("private_metadata"))
    if opened is None or not _same_team(body, view):
        return {form.WHAT: form.OUT_OF_DATE}
    if opened[0] != user:
        return {form.WHAT: form.NOT_YOURS}
    if opened[2] is not None and opened[2] not in fleet.pbxes:  # a PBX the bot no longer serves
        return {form.WHAT: form.OUT_OF_DATE}
    asks = opened[2] is None
    picker = not opened[1] and (asks or fleet.pbxes[opened[2] or ""].use_cases.approval_channel is None)
    blocks = {form.WHAT, form.REASON} | ({form.CHANNEL} if picker else set()) | ({form.PBX} if asks else set())
    values = _values(view, blocks)
    pbx = (values or {}).get(form.PBX) if asks else opened[2]
    asker = replace(asker_of(body), channel=opened[1], response_url=None)
    if values is None or (pbx is not None and pbx not in fleet.may_ask(asker)):
        return {form.WHAT: form.OUT_OF_DATE}
    if pbx is None:
        return {form.PBX: form.PBX_REQUIRED}
    use_cases = fleet.pbxes[pbx].use_cases
    errors: dict[str, str] = {}
    target = _target(values.get(form.WHAT) or "", errors)
    try:
        reason = parse_reason(values.get(form.REASON) or "")
    except InvalidCommand as error:
        errors[form.REASON], reason = error.message, None
    if reason is None and use_cases.require_reason and form.REASON not in errors:
        errors[form.REASON] = form.REASON_REQUIRED
    channel = (values.get(form.CHANNEL) or "") if picker else opened[1] or use_cases.approval_channel or ""
    if picker and not CHANNEL.match(channel):
        errors[form.CHANNEL] = form.CHANNEL_NOT_USABLE if channel else form.CHANNEL_REQUIRED
    if not errors and (refusal := use_cases.requests.may_request_in(channel)) is not None:
        errors[form.CHANNEL if picker else form.WHAT] = words(refusal)
    if not errors and (shared := fleet.shared_with_others(channel, pbx)) is not None:
        errors[form.CHANNEL if picker else form.PBX] = only_this_pbx(shared)
    if errors or target is None:
        return errors or {form.WHAT: form.ONE_THING}
    # the view's id stays the same however often Slack delivers its submission
    return replace(target, reason=reason), replace(asker, channel=channel, delivery=f"view:{view.get('id')}"), use_cases


def _same_team(body: Payload, view: Payload) -> bool:
    """The view is of the workspace the submission came from."""
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    shown = [view.get(field) for field in ("team_id", "app_installed_team_id") if view.get(field) is not None]
    return isinstance(team, str) and all(t == team for t in shown) and isinstance(view.get("id"), str)


def _values(view: Payload, blocks: set[str]) -> dict[str, str | None] | None:
    """The value of each of the form's ``blocks`` (None: left empty); None when the submission has values for
    other blocks or elements, or values of a kind the form does not make."""
    values = (view.get("state") or {}).get("values")
    if not isinstance(values, dict) or not set(values) <= blocks:
        return None
    found: dict[str, str | None] = {}
    for block, elements in values.items():
        only_ours = isinstance(elements, dict) and set(elements) <= {form.VALUE}
        element = elements.get(form.VALUE, {}) if only_ours else None
        option = element.get("selected_option") or {} if isinstance(element, dict) else None
        if not isinstance(element, dict) or not isinstance(option, dict):
            return None
        value = {
            "static_select": option.get("value"),
            "conversations_select": element.get("selected_conversation"),
        }.get(str(element.get("type")), element.get("value"))
        if value is not None and not isinstance(value, str):
            return None
        found[block] = value
    return found


def _target(what: str, errors: dict[str, str]) -> Unblock | None:
    """What to unblock, parsed as ``/unblock`` parses it: one entry id, address, network or number, no more."""
    try:
        parsed = parse_command(what, reason_apart=True) if what.strip() and len(what) <= form.MAX_WHAT else None
    except InvalidCommand as error:
        errors[form.WHAT] = error.message
        return None
    if not isinstance(parsed, UnblockEntry | UnblockAddress | UnblockNumber) or parsed.reason is not None:
        errors[form.WHAT] = form.ONE_THING
        return None
    return parsed
