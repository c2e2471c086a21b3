"""The bot's metrics, in the Prometheus text format (``GET /metrics``).

One prefix (``unblock_``), base units (seconds), ``_total`` on counters (``prometheus_client`` adds it),
and labels of a few known values only: never an address, a number, a user or a channel. The metrics
live in a registry of their own, so that only the bot's are served. Counters count what this process
did; ``unblock_requests_pending`` is read from the store that every replica shares.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from .domain.model import State, UnblockRequest

# no ``_created`` series beside each counter and histogram: they double what Prometheus keeps, and say only
# when this process started counting (the setting is the process's, and the bot is its only user)
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
#: what ``GET /metrics`` answers with: the text format every Prometheus reads (the bot's names and labels are
#: plain ASCII, so its output is the same in the newer format's version)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUESTS_OPENED = Counter(
    "unblock_requests_opened", "Unblock requests opened, by the kind of entry (address, number).", ["kind"],
    registry=REGISTRY,
)  # fmt: skip
REQUESTS_ENDED = Counter(
    "unblock_requests_ended",
    "Unblock requests that reached an end, by the kind of entry and how (unblocked, failed, denied, cancelled, "
    "withdrawn, expired).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
UNDOS = Counter(
    "unblock_undos",
    "Undos of an unblock that ended, by the kind of entry and how (undone, undo_failed).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
DECISION_SECONDS = Histogram(
    "unblock_decision_seconds",
    "Seconds from a request to its decision (approve, deny, cancel).",
    ["decision"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 4 * 3600, 86400, 7 * 86400),
    registry=REGISTRY,
)
REQUESTS_PENDING = Gauge(
    "unblock_requests_pending", "Requests waiting for a decision, in the store every replica shares.", registry=REGISTRY
)
THREECX_REQUESTS = Counter(
    "unblock_threecx_requests",
    "HTTP requests sent to 3CX, by operation (method and entity set, or token) and status (the HTTP status, or "
    "no_answer).",
    ["operation", "status"],
    registry=REGISTRY,
)
THREECX_SECONDS = Histogram(
    "unblock_threecx_request_duration_seconds",
    "Seconds each HTTP request to 3CX took, by operation.",
    ["operation"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
TOKEN_FETCHES = Counter(
    "unblock_threecx_token_fetches",
    "Access tokens asked of 3CX (not those shared through the store), by result (ok, refused, failed).",
    ["result"],
    registry=REGISTRY,
)
SLACK_ERRORS = Counter(
    "unblock_slack_api_errors",
    "Errors from Slack's Web API and reply URLs, by method and Slack's error code.",
    ["method", "error"],
    registry=REGISTRY,
)
SLACK_RATE_LIMITED = Counter(
    "unblock_slack_rate_limited",
    "Answers 429 from Slack, by the kind of message (post, update, note, view); each is waited out and sent again.",
    ["kind"],
    registry=REGISTRY,
)
SLACK_QUEUE = Gauge(
    "unblock_slack_queue_length", "Messages waiting to be sent to Slack, by kind.", ["kind"], registry=REGISTRY
)
WORK_REFUSED = Counter(
    "unblock_background_work_refused",
    "Commands and clicks refused because the bot had too much work waiting (the person was told), by lane.",
    ["lane"],
    registry=REGISTRY,
)
WATCH_AGE = Gauge(
    "unblock_watch_last_success_age_seconds",
    "Seconds since this process last looked at the blocklist successfully (NaN: it has not, or does not watch).",
    registry=REGISTRY,
)
WATCH_AGE.set(float("nan"))


#: the states a request ends in (an undo is counted apart: the request had already ended once)
ENDS = frozenset({State.UNBLOCKED, State.FAILED, State.DENIED, State.CANCELLED, State.EXPIRED})
UNDO_ENDS = frozenset({State.UNDONE, State.UNDO_FAILED})
#: the decisions, by the state they move a pending request to
DECISIONS = {State.EXECUTING: "approve", State.DENIED: "deny", State.CANCELLED: "cancel"}


def request_moved(request: UnblockRequest, from_state: State | None) -> None:
    """A transition this process made (``bot.domain.transitions.Transitions``' observer)."""
    kind = request.targets[0].kind.value
    if from_state is None:
        REQUESTS_OPENED.labels(kind).inc()
        return
    # the bot itself cancels a request whose card could not be posted: withdrawn, not decided
    withdrawn = request.state is State.CANCELLED and request.resolved_by is None
    decision = DECISIONS.get(request.state)
    if from_state is State.PENDING and decision is not None and not withdrawn and request.resolved_at is not None:
        DECISION_SECONDS.labels(decision).observe(max(0.0, request.resolved_at - request.created_at))
    if request.state in ENDS:
        REQUESTS_ENDED.labels(kind, "withdrawn" if withdrawn else request.state.value).inc()
    elif request.state in UNDO_ENDS:
        UNDOS.labels(kind, request.state.value).inc()


def threecx_request(method: str, path: str, status: int | None, seconds: float) -> None:
    """One HTTP request to 3CX (``status`` None: no answer came)."""
    operation = f"{method} {_entity_set(path)}"
    THREECX_REQUESTS.labels(operation, str(status) if status is not None else "no_answer").inc()
    THREECX_SECONDS.labels(operation).observe(seconds)


def _entity_set(path: str) -> str:
    """``/Blocklist(42)`` → ``Blocklist``; ``/connect/token`` → ``token``: never a key."""
    if path.endswith("/token"):
        return "token"
    return path.strip("/").split("(")[0].split("/")[0] or "root"


def slack_queue(waiting: Mapping[str, int]) -> None:
    for kind in ("post", "update", "note", "view"):
        SLACK_QUEUE.labels(kind).set(waiting.get(kind, 0))


def render() -> bytes:
    return generate_latest(REGISTRY)
