"""One PBX's running parts: its 3CX client (with connections, a retry budget and a token of its own), its
requests, allow entries, upkeep and watch, on the store's view of that PBX; built for ``app``, which shares the
Slack side and the store between them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .config import Settings
from .config.pbxes import PbxSettings
from .domain.allow_life import AllowLife
from .domain.allowing import Allowing
from .domain.evidence import Witness
from .domain.lookup import Finder
from .domain.model import Timing
from .domain.policy import ApprovalPolicy
from .domain.reads import Reads
from .domain.requests import Requests
from .domain.sharing import WatchShare
from .domain.transitions import Transitions
from .domain.watch import Watch
from .logs import Redactor
from .slack.allows import AllowReplies
from .slack.answers import Answers
from .slack.showing import Showing
from .slack.sweeper import Sweeper
from .slack.use_cases import UseCases
from .slack.watcher import Announcements, Watcher
from .storage.contract import Store
from .threecx.client import ThreeCXClient
from .threecx.evidence import ThreeCXEvidence
from .threecx.lists import IpBlocklist, NumberBlacklist
from .threecx.retry import RetryPolicy
from .threecx.tokens import RenewToken

#: the longest a 3CX call is taken to last beyond its own bound, for clocks and scheduling
CALL_MARGIN = 2.0
#: the description of an allow entry the bot adds (the approver is a Slack user)
ALLOW_DESCRIPTION = "Allowed for {duration} by unblock-bot: approved by Slack user {user}, {marker}"


@dataclass
class Served:
    """The running parts of one PBX: its 3CX client, its upkeep, and its watch (None: not watched)."""

    name: str
    threecx: ThreeCXClient
    sweeper: Sweeper
    watcher: Watcher | None = None


def threecx_client(
    pbx: PbxSettings,
    timeout: float,
    redactor: Redactor | None,
    *,
    retry: RetryPolicy | None = None,
    share_token: RenewToken | None = None,
) -> ThreeCXClient:
    """The client of the PBX ``pbx``, with connections and a retry budget of its own; the tokens it fetches are
    masked in logs."""
    return ThreeCXClient(
        pbx.url,
        pbx.client_id,
        pbx.client_secret.reveal(),
        timeout=timeout,
        ca_bundle=pbx.ca_bundle,
        retry=retry,
        on_token=redactor.add if redactor else None,
        share_token=share_token,
        pbx=pbx.name,
    )


@dataclass(frozen=True, slots=True)
class Shared:
    """What every PBX's parts share: the settings, the store, Slack's side."""

    settings: Settings
    store: Store
    transitions: Transitions
    showing: Showing
    reads: Reads
    answers: Answers
    clock: Callable[[], float]
    workspace_url: str | None
    redactor: Redactor | None
    retry: RetryPolicy | None
    #: this process's share of the PBXes' watches
    share: WatchShare


async def start_pbx(pbx: PbxSettings, policy: ApprovalPolicy, shared: Shared) -> tuple[Served, UseCases]:
    """One PBX's parts, started: its client (and token) and store of its own, its requests, its upkeep and its
    watch; and its use cases, for the Slack side."""
    settings, clock, owner = shared.settings, shared.clock, shared.transitions.owner
    store = shared.store.scoped(pbx.name)
    threecx = threecx_client(
        pbx, settings.threecx_timeout, shared.redactor, retry=shared.retry, share_token=store.renew_token
    )
    await threecx.start()
    timing = Timing(
        ttl=settings.request_ttl,
        undo_window=settings.undo_window,
        call_bound=threecx.call_bound,
        heartbeat=settings.heartbeat,
        margin=CALL_MARGIN,
    )
    blocklist, numbers = IpBlocklist(threecx), NumberBlacklist(threecx)
    # a lookup, all its calls together, takes no longer than one call may: someone waits for its answer
    finder = Finder(blocklist, numbers, deadline=threecx.call_bound)
    # the allow entries' life: a warning before each ends, Extend, End now, and how it ended, said once
    replies, warn_before = AllowReplies(shared.showing), settings.allow_warn_before
    life = AllowLife(store, store, blocklist, policy, timing, clock, owner, replies, warn_before)
    # also with Approve and allow turned off: an Undo still removes the allow entries it added before
    allowing = Allowing(blocklist, finder, clock, ALLOW_DESCRIPTION, life)
    requests = Requests(
        store,
        {blocklist.kind: blocklist, numbers.kind: numbers},
        allowing,
        policy,
        timing,
        shared.transitions,
        min(30.0, settings.request_ttl / 4),
        cards=shared.showing,
        reads=shared.reads,
        # what 3CX knows about an address never holds a card up longer than one call may take
        witness=Witness(ThreeCXEvidence(threecx), settings.threecx_timeout),
        pbx=pbx.name,
    )
    use_cases = UseCases(
        requests=requests,
        answers=shared.answers,
        finder=finder,
        clock=clock,
        zone=settings.timezone,
        require_reason=settings.require_reason,
        workspace_url=shared.workspace_url,
        approval_channel=pbx.approval_channel,
        allows=life,
        pbx=pbx.name,
        guests=pbx.connect_teams,
    )
    showing, remembered = shared.showing, shared.answers.remembered
    sweeper = Sweeper(
        requests=requests, remembered=remembered, showing=showing, recover_every=timing.heartbeat, allows=life
    )
    sweeper.start()
    watcher = None
    if pbx.watch is not None:
        announcements = Announcements(showing.outbox, clock, showing, pbx.name)
        seat = shared.share.seat()
        watch = Watch(store, blocklist, pbx.watch, owner, clock, announcements, requests, seat)
        watcher = Watcher(watch=watch, showing=showing)
        watcher.start()
    return Served(pbx.name, threecx, sweeper, watcher), use_cases
