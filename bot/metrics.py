"""The bot's metrics, in the Prometheus text format (``GET /metrics``).

One prefix (``unblock_``), base units (seconds), ``_total`` on counters (``prometheus_client`` adds it),
and labels of a few known values only, each one word (``delete_blocklist``, never ``DELETE Blocklist``), but
for ``rule``, the names the operator gave the rules: never an address, a number, a user or a channel. The
metrics live in a registry of their own, so that only the bot's are served, beside the process's
(``process_*``, ``python_info``) and the version (``unblock_build_info``). Counters count what this process
did; ``unblock_requests_pending`` is read from the store that every replica shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from itertools import product

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

# no ``_created`` series beside each counter and histogram: they double what Prometheus keeps, and say only
# when this process started counting (the setting is the process's, and the bot is its only user)
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
# what an operator expects of any process: CPU, memory, open files, start time (``process_*``) and the Python
# that runs it (``python_info``)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
#: what ``GET /metrics`` answers with: the text format every Prometheus reads (the bot's names and labels are
#: plain ASCII, so its output is the same in the newer format's version)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def installed_version() -> str:
    """The version of the installed package (``unknown`` when the bot runs from a folder not installed)."""
    try:
        return version("unblock-bot")
    except PackageNotFoundError:
        return "unknown"


BUILD = Info("unblock_build", "The version of unblock-bot this process runs (always 1).", registry=REGISTRY)
BUILD.info({"version": installed_version()})
REQUESTS_OPENED = Counter(
    "unblock_requests_opened",
    "Unblock requests opened, by the kind of entry (address, number), the name of the rule that decides for "
    "them (empty: the settings) and the PBX (empty: the one PBX of a bot that serves one).",
    ["kind", "rule", "pbx"],
    registry=REGISTRY,
)
REQUESTS_ENDED = Counter(
    "unblock_requests_ended",
    "Unblock requests that reached an end, by the kind of entry and how (unblocked, failed, denied, cancelled, "
    "withdrawn, expired), and the PBX.",
    ["kind", "outcome", "pbx"],
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
    "HTTP requests sent to 3CX, by operation (method and entity set, or token: delete_blocklist, post_token) and "
    "status (the HTTP status, or no_answer), and the PBX.",
    ["operation", "status", "pbx"],
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
    "Access tokens asked of 3CX (not those shared through the store), by result (ok, refused, failed) and PBX.",
    ["result", "pbx"],
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
    "Seconds since this process last looked at the PBX's blocklist successfully (NaN: it has not, or does not "
    "watch it).",
    ["pbx"],
    registry=REGISTRY,
)
THREECX_ANSWERING = Gauge(
    "unblock_threecx_answering",
    "Whether the PBX answered this process's last HTTP request to it (1), or gave no answer (0).",
    ["pbx"],
    registry=REGISTRY,
)


#: the kinds of entry (``bot.domain.entries.Kind``'s values)
KINDS = ("address", "number")
#: the states a request ends in, in the order of their series (an undo is counted apart: the request had already
#: ended once); the values of ``bot.domain.model.State``
ENDS = ("unblocked", "failed", "denied", "cancelled", "expired")
UNDO_ENDS = ("undone", "undo_failed")
#: the decisions, by the state they move a pending request to
DECISIONS = {"executing": "approve", "denied": "deny", "cancelled": "cancel"}


def request_moved(
    kind: str,
    from_state: str | None,
    to_state: str,
    *,
    withdrawn: bool,
    decided_after: float | None,
    rule: str = "",
    pbx: str = "",
) -> None:
    """A transition this process made, in plain values (``app`` wires it as the transitions' observer):
    ``withdrawn``: cancelled by the bot itself, not decided; ``decided_after``: seconds from the request to
    its decision, when it was decided; ``rule``: the name of the rule that decides for it ("": the settings);
    ``pbx``: the PBX it is for."""
    if from_state is None:
        REQUESTS_OPENED.labels(kind, rule, pbx).inc()
        return
    decision = DECISIONS.get(to_state)
    if from_state == "pending" and decision is not None and not withdrawn and decided_after is not None:
        DECISION_SECONDS.labels(decision).observe(max(0.0, decided_after))
    if to_state in ENDS:
        REQUESTS_ENDED.labels(kind, "withdrawn" if withdrawn else to_state, pbx).inc()
    elif to_state in UNDO_ENDS:
        UNDOS.labels(kind, to_state).inc()


def threecx_request(method: str, path: str, status: int | None, seconds: float, pbx: str = "") -> None:
    """One HTTP request to the PBX ``pbx`` (``status`` None: no answer came)."""
    # ``DELETE /Blocklist(42)`` → ``delete_blocklist``; ``POST /connect/token`` → ``post_token``: one word, never a key
    entity_set = "token" if path.endswith("/token") else path.strip("/").split("(")[0].split("/")[0] or "root"
    operation = f"{method}_{entity_set}".lower()
    THREECX_REQUESTS.labels(operation, str(status) if status is not None else "no_answer", pbx).inc()
    THREECX_SECONDS.labels(operation).observe(seconds)
    THREECX_ANSWERING.labels(pbx).set(0 if status is None else 1)


def slack_queue(waiting: Mapping[str, int]) -> None:
    for kind in SLACK_KINDS:
        SLACK_QUEUE.labels(kind).set(waiting.get(kind, 0))


# A counter with labels has no series until its first event, and Prometheus's ``increase()`` over a series
# whose first sample is already 1 is 0: an alert on ``increase(...) > 0`` would miss the first 403, the first
# refused click, the first failed request. So every label value the bot knows starts at 0: each kind of
# entry with each way a request or an undo ends; the decisions (their histogram); each 3CX operation the
# bot makes (and its histogram) with the statuses an alert looks for: 401 and 403 (the API client's token
# or rights refused), 429 (3CX's rate limit), 500, 502, 503 and 504 (3CX or its proxy failing) and
# no_answer (3CX unreachable); the everyday answers (200, 204, 404, 412) appear with their first use. Then
# the token results, the kinds of Slack message (rate-limited, and waiting), the lanes of background work, and
# each Slack method the bot calls (and its reply URLs) with the errors an alert looks for: the token refused
# (invalid_auth, token_revoked), a scope or a channel missing (missing_scope, not_in_channel,
# channel_not_found), and Slack or its proxy failing (http_500, http_502, http_503); Slack's other codes
# appear with their first use.
SLACK_KINDS = ("post", "update", "note", "view")
#: the lanes of ``bot.calls.Lane`` (a module the metrics do not import)
LANES = ("commands", "decisions")
TOKEN_RESULTS = ("ok", "refused", "failed")
#: the XAPI calls the bot makes (``bot.threecx.client``): read, delete and add on both lists, an allow entry's end
#: changed, what 3CX knows about an address, and the token
THREECX_OPERATIONS = (
    *(
        f"{method}_{entity_set}"
        for entity_set in ("blocklist", "blacklistnumbers")
        for method in ("get", "delete", "post")
    ),
    "patch_blocklist",
    "get_eventlogs",
    "get_sipdevices",
    "get_antihackingsettings",
    "post_token",
)
ALERTED_STATUSES = ("401", "403", "429", "500", "502", "503", "504", "no_answer")
#: the Slack Web API methods the bot calls, and ``response_url`` for its posts to reply URLs
SLACK_METHODS = (
    "chat.postMessage",
    "chat.update",
    "chat.getPermalink",
    "views.publish",
    "views.open",
    "conversations.info",
    "usergroups.users.list",
    "response_url",
)
SLACK_ALERTED_ERRORS = (
    "invalid_auth",
    "token_revoked",
    "missing_scope",
    "not_in_channel",
    "channel_not_found",
    "http_500",
    "http_502",
    "http_503",
)


def pbxes_known(rules: Mapping[str, Iterable[str]]) -> None:
    """Each PBX's series start at 0 too: its rules (by name, beside the settings' ""), its ends, the statuses an
    alert looks for, its token's results; and its watch has not looked yet (``app`` calls it at start, with each
    PBX's rules' names)."""
    for pbx, names in rules.items():
        for kind, name in product(KINDS, ["", *names]):
            REQUESTS_OPENED.labels(kind, name, pbx)
        for kind, end in product(KINDS, [*ENDS, "withdrawn"]):
            REQUESTS_ENDED.labels(kind, end, pbx)
        for operation, status in product(THREECX_OPERATIONS, ALERTED_STATUSES):
            THREECX_REQUESTS.labels(operation, status, pbx)
        for result in TOKEN_RESULTS:
            TOKEN_FETCHES.labels(result, pbx)
        WATCH_AGE.labels(pbx).set(float("nan"))


def _zero_initialise() -> None:
    # in their order, so that the output reads the same every time
    for metric, labels in (
        (UNDOS, product(KINDS, UNDO_ENDS)),
        (DECISION_SECONDS, product(DECISIONS.values())),
        (THREECX_SECONDS, product(THREECX_OPERATIONS)),
        (SLACK_RATE_LIMITED, product(SLACK_KINDS)),
        (SLACK_QUEUE, product(SLACK_KINDS)),
        (WORK_REFUSED, product(LANES)),
        (SLACK_ERRORS, product(SLACK_METHODS, SLACK_ALERTED_ERRORS)),
    ):
        for values in labels:
            metric.labels(*values)


_zero_initialise()


def render() -> bytes:
    return generate_latest(REGISTRY)
