"""Log lines are JSON, one per line, and never carry a registered secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import JsonFormatter, Redactor, RepeatLimit, setup_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    yield out
    root.handlers[:] = handlers
    root.setLevel(level)


def test_secrets_are_masked_wherever_they_appear(stream: io.StringIO) -> None:
    redact = Redactor()
    redact.add("xoxb-secret-token-123")
    redact.add("short")  # too short to mask safely: ordinary words would vanish
    setup_logging("DEBUG", redact, stream)
    redact.add("late-access-token-abcdef")  # e.g. a 3CX token fetched after start-up

    log = logging.getLogger("some.library")
    log.debug("sending Authorization: Bearer %s", "late-access-token-abcdef")
    log.info("token in extra", extra={"header": "xoxb-secret-token-123", "short": "short"})
    try:
        raise RuntimeError("failed with xoxb-secret-token-123")
    except RuntimeError:
        log.exception("boom")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "sending Authorization: Bearer ***"
    assert lines[1]["header"] == "***" and lines[1]["short"] == "short"
    assert "xoxb-secret-token-123" not in lines[2]["error"] and "***" in lines[2]["error"]
    assert {line["level"] for line in lines} == {"DEBUG", "INFO", "ERROR"}


def test_a_repeated_line_is_written_at_a_bounded_rate(stream: io.StringIO) -> None:
    now = [0.0]
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(Redactor()))
    handler.addFilter(RepeatLimit(burst=3, window=10.0, exempt=frozenset({"bot.audit"}), clock=lambda: now[0]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel("INFO")

    for _ in range(50):
        logging.getLogger("asyncio").error("socket.accept() out of system resource")
        logging.getLogger("bot.audit").info("transition")
    now[0] = 11.0
    logging.getLogger("asyncio").error("socket.accept() out of system resource")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    faults = [line for line in lines if line["logger"] == "asyncio"]
    assert len(faults) == 4 and faults[-1]["left_out"] == 47
    assert sum(line["logger"] == "bot.audit" for line in lines) == 50  # the record is never thinned
