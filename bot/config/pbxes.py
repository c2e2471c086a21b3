"""The PBXes the bot serves: one from the ``THREECX_*`` settings, or each ``[[pbx]]`` of the ``UNBLOCK_PBXES`` file."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.rules import Rules
from ..domain.watch import WatchRules
from .values import Secret


@dataclass(frozen=True, slots=True)
class PbxSettings:
    """One 3CX PBX: how to reach it, and its people and channels."""

    #: what people type (``/unblock acme 42``); "": the one PBX of the ``THREECX_*`` settings
    name: str
    url: str
    client_id: str
    client_secret: Secret
    ca_bundle: str | None
    #: the channels where ``/unblock`` means this PBX without its name
    channels: frozenset[str]
    #: who may unblock what on this PBX (``rules.default`` holds its approvers)
    rules: Rules
    #: where its approval cards go; None: where the command was typed
    approval_channel: str | None
    #: watching its blocklist; None: off
    watch: WatchRules | None
    #: the other workspaces (Slack Connect) whose people may ask about this PBX in its channels
    connect_teams: frozenset[str] = frozenset()
