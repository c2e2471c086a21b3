"""Section 5: watching the blocklist, in three steps.

- ``observe`` drives a watching bot against the fake 3CX and returns what happened, raw (``Observed``):
  the entries added, every XAPI request the fake 3CX answered and every message the fake Slack received;
- ``judge`` turns that into the figures and the yes/no checks against the goals (``Judged``), with no I/O;
- ``report`` writes the figures as the report's section (markdown and JSON figures), with no I/O.

``watching`` does the three in turn.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .rig import Rig
from .scenarios import Section, Sizes, mark, number, row

WATCH_CHANNEL = "CBENCHWATCH"
#: UNBLOCK_WATCH_INTERVAL: the smallest the bot accepts
WATCH_INTERVAL = 5.0
#: UNBLOCK_WATCH_BURST: more new entries than this in one poll become one summary
WATCH_BURST = 5
#: how the bot's summary of a burst reads (bot/slack/views/watch.py)
SUMMARY_TEXT = re.compile(r"blocked (\d+) addresses at once")
#: at most this many XAPI requests per look
REQUESTS_PER_POLL_GOAL = 2
#: a look's answers must stay below the whole list divided by this
WHOLE_LIST_FRACTION = 10


def is_watch_post(message: dict[str, Any]) -> bool:
    return bool(message["method"] == "chat.postMessage" and message["channel"] == WATCH_CHANNEL)


def summary_size(text: str) -> int:
    """How many entries a burst's summary says it covers; 0 when ``text`` is no summary."""
    match = SUMMARY_TEXT.search(text)
    return int(match[1]) if match else 0


def starts_poll(record: dict[str, Any]) -> bool:
    """The query that opens a look: entries above the mark, or (the first look) the highest Id."""
    query = record["query"]
    opening = query.get("$filter", "").startswith("Id gt") or query.get("$orderby") == "Id desc"
    return bool(record["method"] == "GET" and record["path"].endswith("/Blocklist") and opening)


# -- driving --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """What one run saw, before any judging."""

    #: entries on the blocklist while the bot watched, and the whole list's size in bytes (one GET, no filter)
    entries: int
    whole_list_bytes: int
    #: the AutoBlacklist batches the run meant to add, and the looks it waited for after the last one
    planned: tuple[int, ...]
    quiet_polls: int
    #: the AutoBlacklist entries added, batch by batch (fewer batches than planned when a look did not come)
    added: tuple[tuple[int, ...], ...]
    #: the entries added by an admin, which are never announced
    by_admin: tuple[int, ...]
    #: every request the fake 3CX answered while the bot ran, in order (path, query, sizes, times)
    requests: tuple[dict[str, Any], ...]
    #: every chat.postMessage and chat.update the fake Slack received while the bot ran, in order
    messages: tuple[dict[str, Any], ...]
    #: the 3CX token requests counted by the fake
    token_requests: int


async def whole_list_bytes(rig: Rig) -> int:
    """The size of the whole blocklist as 3CX sends it: one GET without a filter, measured by the fake."""
    base, info = rig.pbx.info["url"], rig.pbx.info
    form = {"grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": info["client_secret"]}
    async with rig.http.post(f"{base}/connect/token", data=form) as response:
        response.raise_for_status()
        token = (await response.json())["access_token"]
    since, _ = await rig.pbx_requests()
    async with rig.http.get(f"{base}/xapi/v1/Blocklist", headers={"Authorization": f"Bearer {token}"}) as response:
        response.raise_for_status()
        received = len(await response.read())
    _, records = await rig.pbx_requests(since - 1)
    measured = int(records[-1]["response_bytes"])
    if measured != received:
        raise RuntimeError(f"the fake 3CX measured {measured} bytes for the whole list, the client read {received}")
    return measured


async def observe(rig: Rig, sizes: Sizes) -> Observed:
    """Run a watching bot while entries are added before its looks, and record what 3CX and Slack saw."""
    n = sizes.blocklist
    await rig.reset_fakes()
    await rig.pbx.post("/entries/clear")
    await rig.new_entries(n)
    whole = await whole_list_bytes(rig)
    await rig.pbx.post("/reset")
    since = await rig.mark()
    env = {"UNBLOCK_WATCH_CHANNEL": WATCH_CHANNEL, "UNBLOCK_WATCH_INTERVAL": f"{WATCH_INTERVAL:g}",
           "UNBLOCK_WATCH_BURST": str(WATCH_BURST)}  # fmt: skip
    bot = await rig.start_bot("bot-watch", env)
    cursor = 0
    records: list[dict[str, Any]] = []

    async def wait_for_polls(count: int) -> bool:
        nonlocal cursor
        deadline = time.monotonic() + 2 * WATCH_INTERVAL + 10
        while True:
            cursor, new = await rig.pbx_requests(cursor)
            records.extend(new)
            if sum(map(starts_poll, records)) >= count:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)

    added: list[tuple[int, ...]] = []
    by_admin: list[int] = []
    for k, batch in enumerate(sizes.watch_batches, start=1):
        if not await wait_for_polls(k):
            break
        await asyncio.sleep(0.2)  # entries added now have Ids above what this look read: the next look's
        first = await rig.new_entries(batch)
        added.append(tuple(range(first, first + batch)))
        by_admin.append(await rig.new_entries(1, added_by="admin"))
    await wait_for_polls(1 + len(sizes.watch_batches) + sizes.quiet_polls)

    # the last look's posts: one per entry added one by one, one per burst
    messages: list[dict[str, Any]] = []
    expected = sum(len(b) if len(b) <= WATCH_BURST else 1 for b in added)
    deadline = time.monotonic() + 5.0
    while True:
        since, new = await rig.messages(since)
        messages.extend(new)
        if sum(map(is_watch_post, messages)) >= expected or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the last look's check of announced entries, and any repeated post
    since, new = await rig.messages(since)
    messages.extend(new)
    cursor, new = await rig.pbx_requests(cursor)
    records.extend(new)
    pbx = await rig.pbx.get("/stats")
    rig.stop(bot)
    return Observed(
        entries=n,
        whole_list_bytes=whole,
        planned=sizes.watch_batches,
        quiet_polls=sizes.quiet_polls,
        added=tuple(added),
        by_admin=tuple(by_admin),
        requests=tuple(records),
        messages=tuple(messages),
        token_requests=int(pbx["token_requests"]),
    )


# -- judging --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Poll:
    """One look of the bot at the blocklist, as the fake 3CX saw it: its XAPI requests and their sizes."""

    requests: int
    request_bytes: int
    response_bytes: int
    queries: tuple[str, ...]

    @classmethod
    def of(cls, records: list[dict[str, Any]]) -> Poll:
        return cls(
            requests=len(records),
            request_bytes=sum(r["request_bytes"] for r in records),
            response_bytes=sum(r["response_bytes"] for r in records),
            queries=tuple(r["query"].get("$filter") or f"$orderby={r['query'].get('$orderby')}" for r in records),
        )


def polls_of(records: Iterable[dict[str, Any]]) -> tuple[list[Poll], int]:
    """The looks, each with the XAPI requests from its opening query to the next one's; and how many XAPI
    requests came before the first look."""
    looks: list[list[dict[str, Any]]] = []
    outside = 0
    for record in records:
        if not record["path"].startswith("/xapi/"):
            continue
        if starts_poll(record):
            looks.append([])
        if not looks:
            outside += 1
            continue
        looks[-1].append(record)
    return [Poll.of(look) for look in looks], outside


@dataclass(frozen=True)
class Judged:
    """The figures of one run, and whether each goal was met, beside what the run saw."""

    seen: Observed
    #: the looks, and the XAPI requests before the first one
    polls: tuple[Poll, ...]
    requests_outside_polls: int
    requests_per_poll_max: int
    requests_per_poll_mean: float
    request_bytes_per_poll_max: int
    request_bytes_per_poll_mean: float
    response_bytes_per_poll_max: int
    response_bytes_per_poll_mean: float
    #: entries added one by one, their announcements, and what was wrong with them
    added_singly: int
    announced_singly: int
    missing: int
    repeated: int
    unexpected: int
    not_autoblacklist_added: int
    #: the bursts' sizes, and the summaries posted
    burst_sizes: tuple[int, ...]
    summaries: int
    #: chat.postMessage or chat.update calls other than the watch channel's posts
    other_slack_messages: int
    #: the goals: every look the run waited for came, few requests per look, small answers, each entry announced
    #: once, one summary per burst, nothing else sent to Slack
    enough_looks: bool
    few_requests: bool
    small_answers: bool
    announced_once: bool
    bursts_as_one_message: bool
    nothing_else: bool

    @property
    def polls_expected(self) -> int:
        return polls_expected(self.seen)


def polls_expected(seen: Observed) -> int:
    """The looks the run waits for: the first, one after each batch it meant to add, and the quiet ones."""
    return 1 + len(seen.planned) + seen.quiet_polls


def _mean(xs: list[int]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def judge(seen: Observed) -> Judged:
    """The figures and checks of a run: looks from the 3CX requests, announcements from the Slack messages."""
    polls, outside = polls_of(seen.requests)
    posts = [m for m in seen.messages if is_watch_post(m)]
    stray = sum(not is_watch_post(m) for m in seen.messages)  # there is nothing to update: no entry goes away
    singles = {e for batch in seen.added if len(batch) <= WATCH_BURST for e in batch}
    bursts = [set(batch) for batch in seen.added if len(batch) > WATCH_BURST]

    summaries = [m for m in posts if summary_size(m["text"])]
    single_posts = Counter(m["entry"] for m in posts if not summary_size(m["text"]))
    missing = len(singles - set(single_posts))
    repeated = sum(c - 1 for e, c in single_posts.items() if e in singles and c > 1)
    unexpected = sum(c for e, c in single_posts.items() if e not in singles)

    def summarised(batch: set[int]) -> int:
        """The summaries that name this burst's first entry and its size."""
        return sum(m["entry"] == min(batch) and summary_size(m["text"]) == len(batch) for m in summaries)

    per_poll = [p.requests for p in polls]
    sent = [p.request_bytes for p in polls]
    received = [p.response_bytes for p in polls]
    max_requests, max_received = max(per_poll, default=0), max(received, default=0)
    return Judged(
        seen=seen,
        polls=tuple(polls),
        requests_outside_polls=outside,
        requests_per_poll_max=max_requests,
        requests_per_poll_mean=_mean(per_poll),
        request_bytes_per_poll_max=max(sent, default=0),
        request_bytes_per_poll_mean=_mean(sent),
        response_bytes_per_poll_max=max_received,
        response_bytes_per_poll_mean=_mean(received),
        added_singly=len(singles),
        announced_singly=sum(single_posts.values()),
        missing=missing,
        repeated=repeated,
        unexpected=unexpected,
        not_autoblacklist_added=len(seen.by_admin),
        burst_sizes=tuple(len(b) for b in bursts),
        summaries=len(summaries),
        other_slack_messages=stray,
        enough_looks=len(polls) >= polls_expected(seen),
        few_requests=0 < max_requests <= REQUESTS_PER_POLL_GOAL,
        small_answers=0 < max_received < seen.whole_list_bytes / WHOLE_LIST_FRACTION,
        announced_once=not missing and not repeated and not unexpected and len(singles) > 0,
        bursts_as_one_message=len(summaries) == len(bursts) > 0 and all(summarised(b) == 1 for b in bursts),
        nothing_else=stray == 0,
    )


# -- reporting ------------------------------------------------------------------------------------


#: what ``report`` leaves out of the figures: the raw record, and what it gives as counts instead
NOT_FIGURES = ("seen", "polls", "burst_sizes")


def figures(j: Judged) -> dict[str, Any]:
    """The figures of section 5 for the JSON summary: those of ``Judged`` (means rounded), with what was seen."""
    seen = j.seen
    judged = {name: value for name, value in asdict(j).items() if name not in NOT_FIGURES}
    digits = {"requests_per_poll_mean": 2}
    rounded = {name: number(value, digits.get(name, 1)) if isinstance(value, float) else value
               for name, value in judged.items()}  # fmt: skip
    return {
        "entries": seen.entries,
        "interval_s": WATCH_INTERVAL,
        "whole_list_bytes": seen.whole_list_bytes,
        "token_requests": seen.token_requests,
        "polls": len(j.polls),
        "bursts": len(j.burst_sizes),
        "burst_entries": sum(j.burst_sizes),
        **rounded,
    }


def report(j: Judged) -> Section:
    """Section 5 of the report: its markdown, and its figures under ``watch`` in the JSON summary."""
    seen = j.seen
    added_before = [0, *seen.planned]
    lines = [
        "## 5. Watching the blocklist",
        "",
        f"The bot watches the blocklist (`UNBLOCK_WATCH_INTERVAL={WATCH_INTERVAL:g}`, the minimum; burst above "
        f"{WATCH_BURST}) while the fake 3CX holds {seen.entries} entries. Before each look after the first, new "
        f"AutoBlacklist entries are added ({', '.join(map(str, seen.planned))}), each time with one entry added by an "
        f"admin, which is not announced; then {seen.quiet_polls} look(s) with nothing new. Sizes are measured by "
        "the fake 3CX: request line, headers and body of each request, and the body of each answer.",
        "",
        "| look | new AutoBlacklist entries before it | 3CX requests | request bytes | response bytes | queries |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
        *(row(i + 1, added_before[i] if i < len(added_before) else 0, p.requests, p.request_bytes, p.response_bytes,
              "; ".join(f"`{q}`" for q in p.queries)) for i, p in enumerate(j.polls)),
        "",
        "| metric | value | goal |",
        "| --- | ---: | --- |",
        row("looks seen", len(j.polls), f">= {j.polls_expected}: {mark(j.enough_looks)}"),
        row("3CX requests per look, max / mean", f"{j.requests_per_poll_max} / {j.requests_per_poll_mean:.2f}",
            f"<= {REQUESTS_PER_POLL_GOAL}: {mark(j.few_requests)}"),
        row("response bytes per look, max / mean",
            f"{j.response_bytes_per_poll_max} / {j.response_bytes_per_poll_mean:.0f}",
            f"far below the whole list (< 1/{WHOLE_LIST_FRACTION}): {mark(j.small_answers)}"),
        row("request bytes per look, max / mean",
            f"{j.request_bytes_per_poll_max} / {j.request_bytes_per_poll_mean:.0f}", ""),
        row(f"the whole list ({seen.entries} entries), one GET without a filter, bytes", seen.whole_list_bytes,
            "baseline"),
        row("3CX token requests / XAPI requests before the first look",
            f"{seen.token_requests} / {j.requests_outside_polls}", ""),
        row("new entries announced one by one", f"{j.announced_singly} for {j.added_singly} entries "
            f"({j.missing} missing, {j.repeated} repeated, {j.unexpected} others)",
            f"each once: {mark(j.announced_once)}"),
        row("bursts announced as one summary", f"{j.summaries} summaries for {len(j.burst_sizes)} bursts of "
            f"{', '.join(map(str, j.burst_sizes))}", f"one each: {mark(j.bursts_as_one_message)}"),
        row("other chat.postMessage / chat.update calls", j.other_slack_messages,
            f"0: {mark(j.nothing_else)}"),
        "",
    ]  # fmt: skip
    return Section("watch", lines, figures(j))


async def watching(rig: Rig, sizes: Sizes) -> Section:
    """Section 5: drive, judge, report."""
    return report(judge(await observe(rig, sizes)))
