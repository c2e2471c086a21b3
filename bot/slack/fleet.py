"""The PBXes the bot serves, as the Slack side sees them: which one a command, a click or a form is for, and who of
another workspace may ask about which.

In a PBX's channel (its ``channels``) ``/unblock 42`` means that PBX; anywhere, ``/unblock acme 42`` names it first.
A click is for its request's PBX, or for the one its value names (``bot.slack.buttons.pbx_of``). People of another
workspace (a Slack Connect channel) may ask only in the channels of a PBX whose ``connect_teams`` lists their
team, only about that PBX, and decide only when its approvers name them by user id. A bot that serves one PBX has
one, named "", meant everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .answers import Answers, Asker
from .command_text import InvalidCommand, ShowHelp, ShowHistory, ShowReport, parse_command
from .ids import PBX_NAME
from .use_cases import UseCases
from .views import notes as say


@dataclass(frozen=True, slots=True)
class Pbx:
    """One PBX: its use cases, and who asks about it where."""

    use_cases: UseCases
    #: where ``/unblock`` means this PBX without its name
    channels: frozenset[str] = frozenset()
    #: the users its approvers name by id: those of another workspace who may decide its requests
    approvers: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Fleet:
    #: by name, in the order of the PBXes file
    pbxes: Mapping[str, Pbx]
    #: the bot's own workspace
    team: str
    #: which PBX each channel means
    _of_channel: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        mapping = {channel: name for name, pbx in self.pbxes.items() for channel in pbx.channels}
        object.__setattr__(self, "_of_channel", mapping)

    @property
    def first(self) -> UseCases:
        """The first PBX's use cases, for what reads every PBX (history, the report, the Home tab)."""
        return next(iter(self.pbxes.values())).use_cases

    @property
    def answers(self) -> Answers:
        return self.first.answers

    @property
    def one(self) -> Pbx | None:
        """The one PBX of a bot that serves one (named ""); None for the PBXes of a PBXes file, which have names."""
        return self.pbxes.get("")

    def guests(self) -> frozenset[str]:
        """Every other workspace some PBX lets ask."""
        return frozenset(team for pbx in self.pbxes.values() for team in pbx.use_cases.guests)

    def of_channel(self, channel: str) -> str | None:
        """The PBX ``channel`` means (the one PBX of a bot that serves one means every channel)."""
        return self._of_channel.get(channel, "" if self.one is not None else None)

    def is_guest(self, asker: Asker) -> bool:
        return asker.team not in ("", self.team)

    def may_ask(self, asker: Asker) -> list[str]:
        """The PBXes ``asker`` may ask about where they are: every one for people of this workspace; for others,
        the PBX of the channel, if it lets their workspace ask."""
        if not self.is_guest(asker):
            return list(self.pbxes)
        here = self._of_channel.get(asker.channel)
        return [here] if here is not None and asker.team in self.pbxes[here].use_cases.guests else []

    def command(self, text: str, asker: Asker) -> str | None:
        """``/unblock <text>`` for the PBX it names first, or the one of the channel; else, when the text needs no
        PBX (help, history, the report), for them all; else a note naming the PBXes the person may ask about."""
        first, _, rest = text.strip().partition(" ")
        named = first.lower() if first.lower() in self.pbxes and first else None
        pbx = named if named is not None else self.of_channel(asker.channel)
        may = self.may_ask(asker)
        if not may:
            return say.OTHER_WORKSPACE
        shared = self.shared_with_others(asker.channel, named) if named is not None else None
        if shared is not None:
            return say.only_this_pbx(shared)
        if pbx is not None and pbx in may and not (named is None and self.misnamed(first, rest, text)):
            return self.pbxes[pbx].use_cases.command(rest if named is not None else text, asker)
        if named is None and not self.is_guest(asker):
            parsed = _parsed(text)
            if isinstance(parsed, ShowHistory | ShowReport):
                return self.first.command(text, asker)
            if isinstance(parsed, ShowHelp):
                return f"{self.first.command(text, asker)}\n\n{say.which_pbx(may)}"
        return say.which_pbx(may)

    def misnamed(self, first: str, rest: str, text: str) -> bool:
        """Whether ``text``, which cannot be read as it is, names a PBX the bot does not serve before what can
        (``/unblock zeta 42``), where the bot's PBXes have names."""
        if self.one is not None or PBX_NAME.fullmatch(first) is None:
            return False
        return _parsed(text) is None and _parsed(rest) is not None

    def shared_with_others(self, channel: str, pbx: str) -> str | None:
        """The PBX whose channel ``channel`` is, when it is shared with another workspace and is not ``pbx``'s:
        no other PBX's card may go there."""
        here = self._of_channel.get(channel)
        return here if here is not None and here != pbx and self.pbxes[here].use_cases.guests else None

    def may_click(self, pbx: str, asker: Asker, *, decides: bool) -> str | None:
        """Why ``asker`` may not click a button of ``pbx`` (``decides``: one only approvers may click); None when
        they may."""
        if not self.is_guest(asker):
            return None
        if pbx not in self.may_ask(asker):
            return say.OTHER_WORKSPACE
        return say.GUEST_NOT_APPROVER if decides and asker.user not in self.pbxes[pbx].approvers else None


def _parsed(text: str) -> object | None:
    """What ``/unblock <text>`` asks for; None when it cannot be read."""
    try:
        return parse_command(text)
    except InvalidCommand:
        return None
