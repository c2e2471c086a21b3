"""``/unblock``, answered beside Bolt: the server (over HTTP) and the Socket Mode handler hand a slash command,
checked for its signature and its shape, straight to :class:`Commands`, which answers it at once with the
acknowledgement's text; Bolt handles the clicks, the forms and the events.

A command needs nothing of Bolt's: no token (the acknowledgement is the answer, and the work it starts
posts through the bot's own client), no listener matching (one command), no context. Going through Bolt cost
more than all the bot's own work for it; answering here, a command is acknowledged faster than Bolt alone
would acknowledge it.

Who may ask is checked as for everything else (:func:`foreign_teams`, also used by the listeners'
middleware): a command from another workspace, which a channel shared with another company brings, is refused
with a sentence and does nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from .answering import Asker
from .use_cases import UseCases
from .views import notes as say

log = logging.getLogger(__name__)

#: the one command the bot has (the app's manifest names it)
COMMAND = "/unblock"


class Commands:
    """The bot's slash command, for the workspace ``team_id`` only."""

    def __init__(self, use_cases: UseCases, team_id: str) -> None:
        self._use_cases = use_cases
        self._team_id = team_id

    def answer(self, command: dict[str, Any]) -> str | None:
        """The acknowledgement's text for ``command`` (a slash command's fields; None: an empty one), after
        starting the work it asks for."""
        others = foreign_teams(command, self._team_id)
        if others is not None:
            log.info("refused a request from another workspace, or from none", extra={"teams": others})
            return say.OTHER_WORKSPACE
        if command.get("command") != COMMAND:
            log.info("refused a slash command the bot does not have", extra={"command": str(command["command"])[:32]})
            return say.UNKNOWN_COMMAND
        asker = Asker(
            user=str(command.get("user_id", "")),
            channel=str(command.get("channel_id", "")),
            response_url=command.get("response_url"),
            delivery=str(command.get("trigger_id") or ""),
        )
        try:
            return self._use_cases.command(str(command.get("text") or ""), asker)
        except Exception as error:  # a fault of the bot's: the person is told, and the bot goes on
            log.exception("a Slack request could not be handled", extra={"error": type(error).__name__})
            return say.FAULT


def foreign_teams(body: dict[str, Any], team_id: str) -> list[str] | None:
    """None when ``body`` (a command, a click, a form, an event) comes from the workspace ``team_id``: the team it
    was made in and the team of the person who made it, where given, are ``team_id``, and one of them is given.
    Otherwise the other teams it names (none when it names no team)."""
    teams = (body.get("team_id"), _field(body, "team", "id"), _field(body, "user", "team_id"))
    named = [t for t in teams if t is not None]
    if named and named.count(team_id) == len(named):
        return None
    return sorted({str(t)[:32] for t in named if t != team_id})


def _field(body: dict[str, Any], outer: str, inner: str) -> Any:
    """``body[outer][inner]``, or None when either is missing or ``body[outer]`` is not an object."""
    value = body.get(outer)
    return value.get(inner) if isinstance(value, dict) else None
