"""Section 6: one bot process serving many PBXes, as a provider runs it (``docs/providers.md``).

Every PBX is a fake 3CX of its own on loopback (``python -m bench.fleet``: one process of fakes for each part),
and the bot reads them from a PBXes file (``UNBLOCK_PBXES``). Goals 1 to 3 are driven in ``many.py``, goal 4 in
``replicas.py``, goal 5 in ``bigwatch.py``; goals 1, 2, 4 and 5 run side by side (they count, and a takeover takes
seconds), goal 3 (a latency) alone after them. What is here past ``provider`` is pure: it is given what the parts
observed and does no I/O.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from typing import Any

from . import bigwatch, replicas
from .load import percentile
from .many import (
    BURST_SPAN,
    CLICK_GOAL_MS,
    MEMORY_GOAL_MB,
    REQUESTS_PER_LOOK_GOAL,
    SLOW_ANSWER,
    Clicks,
    Many,
    clicks_beside_slow_pbxes,
    serve_many,
)
from .rig import Rig
from .scenarios import Section, Sizes, mark, number, row
from .served import LIST_PATH, looks_of, start_fleet, tokens_of


def many_figures(m: Many) -> dict[str, Any]:
    looks = [looks_of(records) for records in m.records]
    sizes = [len(look) for pbx in looks for look in pbx]
    gaps = [b[0]["received"] - a[0]["received"] for pbx in looks for a, b in itertools.pairwise(pbx)]
    tokens = [tokens_of(records) for records in m.records]
    rss = [mb for _, mb in m.rss_mb]
    most = max(sizes, default=0)
    return {
        "pbxes": m.pbxes,
        "interval_s": m.interval,
        "startup_s": number(m.startup_s, 2),
        "looks": len(sizes),
        "looks_per_pbx_min": min((len(pbx) for pbx in looks), default=0),
        "requests_per_look_max": most,
        "requests_per_look_mean": number(statistics.fmean(sizes), 2) if sizes else None,
        "looks_of_two_requests": sum(s == 2 for s in sizes),
        "seconds_between_looks_mean": number(statistics.fmean(gaps)) if gaps else None,
        "token_requests": sum(tokens),
        "token_requests_per_pbx_max": max(tokens, default=0),
        "new_blocks_announced": m.announced,
        "asked": m.asked,
        "sent": len(m.sent.sent),
        "errors": m.sent.errors,
        "busy": m.sent.busy,
        "cards": m.cards,
        "rss_mb": [number(mb) for mb in rss],
        "rss_before_mb": number(rss[0]),
        "rss_after_mb": number(rss[-1]),
        "few_requests_per_look": min((len(pbx) for pbx in looks), default=0) >= 2
        and 0 < most <= REQUESTS_PER_LOOK_GOAL,
        "memory_within_goal": m.cards == m.asked > 0 and max(rss) < MEMORY_GOAL_MB,
    }


def click_figures(c: Clicks) -> dict[str, Any]:
    asked = len(c.clicked.sent)
    p50, p99 = percentile(c.to_delete, 50), percentile(c.to_delete, 99)
    return {
        "quick_pbxes": c.quick,
        "slow_pbxes": c.slow,
        "slow_answer_s": SLOW_ANSWER,
        "cards": c.cards,
        "clicks": asked,
        "click_errors": c.clicked.errors,
        "click_to_delete_measured": len(c.to_delete),
        "click_to_delete_p50_ms": number(p50 * 1000),
        "click_to_delete_p99_ms": number(p99 * 1000),
        "click_ack_p99_ms": number(c.clicked.percentile_ms(99)),
        "deletes": c.deletes,
        "deletes_are_the_entries": c.exact,
        "burst_sent": len(c.burst.sent),
        "burst_answered": c.burst.done,
        "burst_errors": c.burst.errors,
        "slow_requests_received": c.slow_received,
        "slow_requests_answered": c.slow_answered,
        "click_to_delete_within_goal": 0 < len(c.to_delete) == asked and p99 * 1000 < CLICK_GOAL_MS,
    }


def goals_table(many: dict[str, Any], clicks: dict[str, Any], shared: dict[str, Any], big: dict[str, Any]) -> list[str]:
    takeover = shared["takeover_max_s"]
    lookup = big["lookup_requests"]
    return [
        "| goal | measured | target | met |",
        "| --- | --- | --- | --- |",
        row(
            f"1. XAPI requests per look, {many['pbxes']} PBXes watched every {many['interval_s']:g} s",
            f"max {many['requests_per_look_max']}, mean {many['requests_per_look_mean']} over {many['looks']} looks "
            f"(at least {many['looks_per_pbx_min']} per PBX)",
            f"<= {REQUESTS_PER_LOOK_GOAL}, >= 2 looks each",
            mark(many["few_requests_per_look"]),
        ),
        row(
            f"2. RSS of the bot after {many['sent']} requests",
            f"{many['rss_before_mb']} MB before, {many['rss_after_mb']} MB after ({many['cards']} cards)",
            f"< {MEMORY_GOAL_MB:g} MB",
            mark(many["memory_within_goal"]),
        ),
        row(
            f"3. click to DELETE p99, quick PBXes, {clicks['slow_pbxes']} PBXes answering in {SLOW_ANSWER:g} s",
            f"{clicks['click_to_delete_p99_ms']} ms (p50 {clicks['click_to_delete_p50_ms']} ms, "
            f"{clicks['click_to_delete_measured']} clicks)",
            f"< {CLICK_GOAL_MS:g} ms",
            mark(clicks["click_to_delete_within_goal"]),
        ),
        row(
            "4. two replicas: 3CX token requests per PBX",
            f"{shared['token_requests']} for {shared['pbxes']} PBXes "
            f"({shared['pbxes_with_one_token_request']} with exactly one)",
            "1 each",
            mark(shared["one_token_each"]),
        ),
        row(
            "4. two replicas: each PBX watched by one at a time",
            f"{shared['looks_by_both_within_interval']} looks by both within an interval, "
            f"{shared['looks_unattributed']} looks not attributed",
            "0, 0",
            mark(shared["one_replica_at_a_time"]),
        ),
        row(
            "4. two replicas: the watches shared",
            ", ".join(f"{r} {n}" for r, n in shared["watched_before_kill"].items()) + " PBXes at the kill",
            f"each <= {-(-shared['pbxes'] // len(replicas.REPLICAS))}",
            mark(shared["shared_evenly"]),
        ),
        row(
            "4. takeover after SIGKILL",
            f"{shared['taken_over']}/{shared['victim_watched']} PBXes, longest "
            f"{takeover if takeover is not None else '-'} s",
            f"all, <= {replicas.TAKEOVER_GOAL:g} s",
            mark(shared["took_over_in_time"]),
        ),
        row(
            f"5. XAPI requests per look, {big['entries']} entries",
            f"{big['requests_per_look']}",
            f"<= {bigwatch.PER_LOOK_GOAL}",
            mark(big["few_requests_per_look"]),
        ),
        row(
            "5. response bytes per look",
            f"max {max(big['response_bytes_per_look'], default=0)} (whole list {big['whole_list_bytes']})",
            f"< 1/{bigwatch.WHOLE_LIST_FRACTION} of the whole list",
            mark(big["small_answers"]),
        ),
        row(
            "5. XAPI requests of `/unblock <address>`",
            f"{lookup} ({big['first_lookup_requests']} for the first card, which also reads the thresholds)"
            + ("" if big["lookup_card_posted"] else ", no card"),
            f"<= {bigwatch.LOOKUP_GOAL}",
            mark(big["lookup_within_goal"]),
        ),
    ]


def details(many: dict[str, Any], clicks: dict[str, Any], shared: dict[str, Any], huge: bigwatch.Judged) -> list[str]:
    big = bigwatch.figures(huge)
    lines = [
        "",
        f"**1, 2. One process, {many['pbxes']} PBXes** (start-up to `/healthz` {many['startup_s']} s): "
        f"{many['looks']} looks, {many['looks_of_two_requests']} of them with 2 requests (the opening query and "
        f"the check of announced entries), {many['seconds_between_looks_mean']} s apart on average; "
        f"{many['token_requests']} token requests (at most {many['token_requests_per_pbx_max']} per PBX, not "
        f"counted in looks); {many['new_blocks_announced']} new blocks announced (one added to each PBX). "
        f"{many['sent']} `/unblock acme-N <id>` at {many.get('rate', '-')} req/s, round the PBXes: "
        f"{many['errors']} errors, {many['busy']} acked as busy, {many['cards']} cards. RSS MB before, after each "
        "fifth and 1 s after the last card: " + " → ".join(str(mb) for mb in many["rss_mb"]) + ".",
        "",
        f"**3. Clicks beside slow PBXes**: {clicks['clicks']} Approve clicks on cards of the {clicks['quick_pbxes']} "
        f"quick PBXes and a burst of {clicks['burst_sent']} commands to all of them, sent together over "
        f"{many.get('burst_span', '-')} s; the {clicks['slow_pbxes']} slow PBXes had received "
        f"{clicks['slow_requests_received']} requests and answered {clicks['slow_requests_answered']} when the last "
        f"DELETE came. DELETEs: {clicks['deletes']} (exactly the clicked entries: "
        f"{mark(clicks['deletes_are_the_entries'])}); "
        f"click acks p99 {clicks['click_ack_p99_ms']} ms; burst answered {clicks['burst_answered']}/"
        f"{clicks['burst_sent']}.",
        "",
        f"**4. Two replicas on PostgreSQL**, watching every {shared['interval_s']:g} s: each asked once about "
        f"every PBX ({shared['cards']}/{shared['asked']} cards); "
        f"{shared['pbxes_looked_at_by_both_before_kill']} PBXes handed on from one to the other before the kill; "
        f"{shared['victim']} was killed. {shared['looks']} looks in all, at most "
        f"{shared['requests_per_look_max']} XAPI request(s) each. The fakes tell the replicas apart by the process "
        "that holds the client end of each connection.",
        "",
        f"**5. One PBX, {big['entries']} entries** (full scans of the list by the fake: {big['full_scans']}; "
        f"token requests {big['token_requests']}):",
        "",
        "| look | requests | request bytes | response bytes | queries |",
        "| ---: | ---: | ---: | ---: | --- |",
        *(
            row(i + 1, n, sent, got, "; ".join(f"`{q}`" for q in queries))
            for i, (n, sent, got, queries) in enumerate(huge.looks)
        ),
        "",
        f"`/unblock {huge.seen.address}` ({'card posted' if big['lookup_card_posted'] else 'no card'}), every XAPI "
        "request 3CX received from the command to its card:",
        "",
        *(f"- `{bigwatch.query_text(r, short=True)}`" for r in huge.seen.lookup),
        "",
        *lookup_said(huge),
    ]
    return lines


def report(
    many: Many, clicks: Clicks, shared: replicas.Judged, huge: bigwatch.Judged, rate: float, span: float, seconds: float
) -> Section:
    m = many_figures(many) | {"rate": rate, "burst_span": span}
    c, s, b = click_figures(clicks), replicas.figures(shared), bigwatch.figures(huge)
    lines = [
        "## 6. At a provider's scale",
        "",
        f"One bot process serving {m['pbxes']} PBXes from a PBXes file, each a fake 3CX of its own on loopback (one "
        "process of fakes), each watched in a channel of its own. Goals 1, 2, 4 and 5 run side by side (they count; "
        f"a takeover takes seconds); goal 3 runs alone after them. Section 6 took {seconds:.0f} s.",
        "",
        *goals_table(m, c, s, b),
        *details(m, c, s, huge),
        "",
    ]
    return Section(
        "provider", lines, {"goals_1_2": m, "goal_3": c, "goal_4": s, "goal_5": b, "section_s": round(seconds, 1)}
    )


async def provider(rig: Rig, sizes: Sizes) -> Section:
    started = time.monotonic()
    fleet, others, big = await asyncio.gather(
        start_fleet(rig, "fleet", sizes.pbxes),
        start_fleet(rig, "fleet-replicas", sizes.pbxes),
        start_fleet(rig, "fleet-big", 0, big=sizes.big_list),
    )
    many, shared, huge = await asyncio.gather(
        serve_many(rig, sizes, fleet), replicas.replicas(rig, sizes, others), bigwatch.big_list(rig, sizes, big)
    )
    clicks = await clicks_beside_slow_pbxes(rig, sizes, fleet)
    return report(many, clicks, shared, huge, sizes.fleet_rate, BURST_SPAN, time.monotonic() - started)


def lookup_said(huge: bigwatch.Judged) -> list[str]:
    """Where the requests of ``/unblock <address>`` come from, in the bot."""
    parts = bigwatch.lookup_parts(huge.seen.lookup)
    values = sum(len(bigwatch.listed(r)) for r in huge.seen.lookup if r["path"] == LIST_PATH)
    first = ", ".join(f"`{bigwatch.query_text(r, short=True)}`" for r in huge.seen.first_lookup)
    return [
        f"Of these, {parts['blocklist']} read the blocklist: the lookup asks, with `in`, for every text an entry "
        f"covering the address could have ({values}: the address, and each of its supernets as `a.b.c.d/len` and "
        "as `a.b.c.d/mask`; `candidate_masks` in bot/domain/lookup.py, `with_masks` in bot/threecx/lists.py). "
        f"The other {parts['evidence']} read what 3CX knows about the address for the card (its event log and the "
        "phones registered from it; `Witness.about` in bot/domain/evidence.py). The first command, just before "
        f"it, also read the anti-hacking thresholds, which the bot keeps for 10 minutes: {first}."
    ]
