"""Wiring: build the Bolt app and everything it needs, inside the running loop."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from . import metrics
from .config import Settings
from .domain.model import State, UnblockRequest
from .domain.policy import ApprovalPolicy
from .domain.ports import StoreUnreachable
from .domain.reads import Reads
from .domain.report import Reporting, Weekly
from .domain.sharing import WatchShare
from .domain.transitions import Transitions
from .domain.watch import HOLD_EVERY, hold_every
from .logs import Redactor
from .network import host, unreached
from .served import Served, Shared, start_pbx
from .slack.admission import Admission
from .slack.answers import Answers
from .slack.failures import error_code
from .slack.fleet import Fleet, Pbx
from .slack.groups import SlackGroupMembership
from .slack.listeners import OneWorkspace, register
from .slack.outbox import Outbox
from .slack.reporter import Reporter
from .slack.showing import Showing
from .slack.state import Remembered
from .storage.contract import Store
from .storage.opening import open_store
from .tasks import BackgroundWork, Limits, Upkeep
from .threecx.client import ThreeCXClient
from .threecx.errors import ADVICE, ThreeCXError
from .threecx.retry import RetryPolicy

log = logging.getLogger(__name__)

#: how long a readiness probe waits for the database
READY_TIMEOUT = 2.0


class StartupError(Exception):
    """The bot cannot start; the message is one sentence for an admin."""


def build_app(settings: Settings, client: AsyncWebClient, fleet: Fleet, team_id: str) -> AsyncApp:
    secret = settings.slack_signing_secret
    app = AsyncApp(
        # (named, Bolt need not read the call stack for a name)
        name="unblock-bot",
        # a client without a token: Bolt takes the token from `authorize` for each request
        client=AsyncWebClient(base_url=client.base_url, session=client.session, retry_handlers=client.retry_handlers),
        authorize=OneWorkspace(settings.slack_bot_token.reveal()),
        # Bolt checks the signature of each request over HTTP (Socket Mode has none); then, before anything reads
        # the body, replays, shapes and other workspaces are refused
        signing_secret=secret.reveal() if secret else "",
        request_verification_enabled=secret is not None,
        before_authorize=Admission(fleet, team_id),
        # the bot's own events are not listened to, and no listener uses a workflow step's token
        ignoring_self_events_enabled=False,
        attaching_function_token_enabled=False,
        # listeners only ack and hand work on: running them before the response is the fastest ack
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    register(app)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "a Slack request could not be handled", extra={"error": type(error).__name__, "type": body.get("type")}
        )

    return app


def _count(request: UnblockRequest, from_state: State | None) -> None:
    """A transition this process made, counted in the metrics (which know no request, only plain values)."""
    decided_after = request.decision.at - request.asked.at if request.decision.at is not None else None
    metrics.request_moved(
        request.what.targets[0].kind.value,
        from_state.value if from_state is not None else None,
        request.state.value,
        withdrawn=request.withdrawn,
        decided_after=decided_after,
        rule=request.decision.rule or "",
        pbx=request.pbx,
    )


@dataclass
class Bot:
    """The running parts of one bot process; :meth:`close` drains and releases them in order."""

    settings: Settings
    app: AsyncApp
    work: BackgroundWork
    outbox: Outbox
    served: list[Served]
    store: Store
    http: aiohttp.ClientSession
    share: WatchShare
    reporter: Reporter | None = None

    async def readiness(self) -> dict[str, str]:
        """Whether the bot can do its work now: ``ok``, or what is wrong, for the database and for each PBX (a
        token held, or one that can be had), asked together."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.store.ping(), READY_TIMEOUT)
            checks["database"] = "ok"
        except Exception as error:  # whatever the driver says: not ready
            checks["database"] = f"the database does not answer ({type(error).__name__})"
        answers = await asyncio.gather(*(self._answers(pbx.threecx) for pbx in self.served))
        for pbx, answer in zip(self.served, answers, strict=True):
            checks[f"3cx {pbx.name}".strip()] = answer
        return checks

    async def _answers(self, threecx: ThreeCXClient) -> str:
        try:
            await asyncio.wait_for(threecx.check_credentials(), self.settings.threecx_timeout)
        except ThreeCXError as error:
            return f"no 3CX access token: {error.answer()}"
        except Exception as error:
            return f"no 3CX access token ({type(error).__name__})"
        return "ok"

    @staticmethod
    def ready(checks: dict[str, str]) -> bool:
        """Ready while all but the PBXes answer and at least one PBX does: one PBX's trouble is its own."""
        pbxes = [result for check, result in checks.items() if check.startswith("3cx")]
        others = [result for check, result in checks.items() if not check.startswith("3cx")]
        return all(result == "ok" for result in others) and "ok" in pbxes

    async def metrics(self) -> bytes:
        """The metrics, in the Prometheus text format, with the gauges read now."""
        try:
            metrics.REQUESTS_PENDING.set(await asyncio.wait_for(self.store.count_pending(), READY_TIMEOUT))
        except Exception as error:  # the database does not answer: the gauge keeps its last value
            log.warning("could not count the pending requests", extra={"error": type(error).__name__})
        metrics.slack_queue(self.outbox.waiting_by_kind())
        for pbx in self.served:
            look = pbx.watcher.last_look if pbx.watcher is not None else None
            metrics.WATCH_AGE.labels(pbx.name).set(time.monotonic() - look if look is not None else float("nan"))
        return metrics.render()

    async def close(self, drain_timeout: float = 30.0) -> None:
        # the rounds of upkeep under way and the work in flight finish together, within the one drain time
        upkeep: list[Upkeep] = [u for pbx in self.served for u in (pbx.watcher, pbx.sweeper) if u is not None]
        upkeep += [self.reporter] if self.reporter is not None else []
        await asyncio.gather(*(u.stop(drain_timeout) for u in upkeep), self.work.drain(drain_timeout))
        try:
            await self.share.leave()
        except StoreUnreachable:
            log.warning("could not say this process stops watching; the others count without it once it is stale")
        await self.outbox.close(drain_timeout)
        await asyncio.gather(*(pbx.threecx.close() for pbx in self.served))
        await self.store.close()
        await self.http.close()


def slack_unreachable(error: BaseException, api_url: str) -> str | None:
    """What to tell an admin when a call to Slack got no answer because Slack could not be reached (its name not
    resolved, no route, the connection refused, a proxy failing): which host, why, and what to check; None when
    Slack was reached."""
    why = unreached(error)
    if why is None:
        return None
    where = host(api_url)
    return (
        f"{where} could not be reached ({why}). Check the DNS, that no firewall stops this machine from making "
        f"outbound HTTPS connections to {where}, and HTTPS_PROXY in the environment if it must use a proxy"
    )


async def workspace(settings: Settings, client: AsyncWebClient) -> tuple[str, str | None]:
    """The bot's own workspace: its team id, and its address (for links) when Slack said it.

    Raises:
        StartupError: Slack would not say (and ``SLACK_TEAM_ID`` is not set).
    """
    if settings.slack_team_id is not None:
        return settings.slack_team_id, None
    try:
        auth = await client.auth_test()
    except Exception as error:  # Slack's error, a proxy's page, or no answer after the client's retries
        unreachable = slack_unreachable(error, settings.slack_api_url)
        if unreachable is not None:
            raise StartupError(unreachable) from None
        reason = error_code(error)
    else:
        team, url = auth.get("team_id"), auth.get("url")
        if isinstance(team, str) and team:
            return team, url if isinstance(url, str) and url.endswith("/") else None
        reason = "no team_id in its answer"
    raise StartupError(
        f"Slack did not confirm the bot's workspace (auth.test: {reason}): check SLACK_BOT_TOKEN and "
        "SLACK_API_URL, or set SLACK_TEAM_ID to start without asking Slack"
    )


async def start_bot(
    settings: Settings,
    *,
    redactor: Redactor | None = None,
    clock: Callable[[], float] = time.time,
    retry: RetryPolicy | None = None,
    limits: dict[Any, Limits] | None = None,
) -> Bot:
    """Open the store, the 3CX clients and the Slack clients, and build the app around them.

    Raises:
        StoreUnavailable: the database cannot be used, or holds data of a PBX it cannot tell.
        StartupError: Slack would not name the bot's workspace.
    """
    store = await open_store(settings.database_url, wait=settings.database_wait)
    http = aiohttp.ClientSession()
    try:
        # cards and notes: a 429 is the outbox's to wait out (it holds back only that channel)
        outbox_client = AsyncWebClient(
            token=settings.slack_bot_token.reveal(),
            base_url=settings.slack_api_url,
            session=http,
            retry_handlers=async_default_handlers(),
        )
        # everything else (user groups, auth.test): the client waits out a 429 itself
        client = AsyncWebClient(
            token=settings.slack_bot_token.reveal(),
            base_url=settings.slack_api_url,
            session=http,
            retry_handlers=[*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        team_id, workspace_url = await workspace(settings, client)
        await _adopt(store, settings)
    except BaseException:
        await http.close()
        await store.close()
        raise
    membership = SlackGroupMembership(client)
    policies = {
        pbx.name: ApprovalPolicy(
            pbx.rules,
            membership,
            allow_self_approval=settings.allow_self_approval,
            channels=settings.channels,
            approval_channel=pbx.approval_channel,
        )
        for pbx in settings.pbxes
    }
    metrics.pbxes_known({pbx.name: [rule.name or "" for rule in pbx.rules.rules] for pbx in settings.pbxes})
    transitions = Transitions(store, clock, owner=secrets.token_hex(6), observe=_count, advice=ADVICE)
    work = BackgroundWork(limits)
    outbox = Outbox(outbox_client, http)
    remembered = Remembered(store, clock)
    # the weekly reports are claimed by this process's owner name, once across processes
    weekly = Weekly(*settings.report_at, zone=settings.timezone)
    reporting = Reporting(store, store, clock, weekly, holder=transitions.owner, watched=store)
    first = policies[settings.pbxes[0].name]
    reads = Reads(store, first, reporting, allows=store, policies=policies)
    showing = Showing(
        outbox=outbox,
        client=client,
        reads=reads,
        remembered=remembered,
        clock=clock,
        notify_requester=settings.notify_requester,
    )
    answers = Answers(work=work, showing=showing, remembered=remembered)
    # the processes serving the PBXes count each other as often as they hold their watches
    holds = [hold_every(pbx.watch.interval) for pbx in settings.pbxes if pbx.watch is not None]
    share = WatchShare(store, transitions.owner, clock, every=min(holds, default=HOLD_EVERY))
    if holds:  # its first rounds take no more than its share of the watches of those already there
        await share.count()
    shared = Shared(settings, store, transitions, showing, reads, answers, clock, workspace_url, redactor, retry, share)
    served, pbxes = [], {}
    for pbx in settings.pbxes:
        one, use_cases = await start_pbx(pbx, policies[pbx.name], shared)
        served.append(one)
        pbxes[pbx.name] = Pbx(use_cases, pbx.channels, pbx.rules.default.approvers.users)
    app = build_app(settings, client, Fleet(pbxes, team_id), team_id)
    reporter = None
    if settings.report_channel is not None:
        channel, zone = settings.report_channel, settings.timezone
        reporter = Reporter(reporting=reporting, outbox=outbox, channel=channel, zone=zone)
        reporter.start()
    return Bot(settings, app, work, outbox, served, store, http, share, reporter)


async def _adopt(store: Store, settings: Settings) -> None:
    """Record the PBXes served, and move the data of one renamed (the same URL) to its new name.

    Raises:
        StoreUnavailable: the database holds data of a PBX it cannot tell.
    """
    served = {pbx.name: pbx.url for pbx in settings.pbxes}
    for move in await store.adopt(served):
        log.info(move)
    for name, url in (await store.unserved(served)).items():
        log.warning(
            f"the database keeps requests of the PBX {name or 'of the THREECX_* settings'} ({url}), which this bot no "
            "longer serves: nothing looks after its open requests and allow entries (docs/providers.md, "
            '"Taking a PBX out")'
        )
