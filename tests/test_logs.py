"""Log lines are JSON, one per line, and never carry a registered secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import Redactor, setup_logging


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
