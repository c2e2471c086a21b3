"""Logging: one JSON object per line, with every known secret masked.

Secrets are registered with :func:`Redactor.add` (the settings' secrets at
start-up, each 3CX access token when it is fetched) and replaced by ``***``
in the formatted line, whatever library wrote it and at whatever level.
Capabilities that are not registered one by one are masked by their shape:
Slack's response URLs (``…/commands/T…/…/<secret>``, ``…/actions/…``) and the
``ticket=`` of a Socket Mode URL.

A line that repeats (the same message from the same logger) is written at a
bounded rate; the next one written says how many were left out. Audit lines
are never left out.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

#: attributes every LogRecord has; anything else was passed in ``extra``
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        # shorter values would mask ordinary words; every real secret here is much longer
        if len(secret) >= 8 and secret not in self._secrets:
            with self._lock:
                # longest first, so a secret that contains another is masked whole
                self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return _CAPABILITY.sub(lambda match: f"{match[1] or match[2]}***", text)


#: the secret part of a Slack response URL, and a Socket Mode ticket
_CAPABILITY = re.compile(r"(/(?:commands|actions)/[A-Z0-9]+/[0-9]+/)[A-Za-z0-9]+|(ticket=)[^&\s\"'\\]+")


class RepeatLimit(logging.Filter):
    """Lets at most ``burst`` records with the same logger and message through per ``window`` seconds."""

    def __init__(
        self,
        *,
        burst: int = 20,
        window: float = 10.0,
        exempt: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._burst, self._window, self._exempt, self._clock = burst, window, exempt, clock
        #: (logger, message) -> (window start, records let through, records left out)
        self._counts: dict[tuple[str, object], tuple[float, int, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in self._exempt:
            return True
        key, now = (record.name, record.msg), self._clock()
        with self._lock:
            start, passed, dropped = self._counts.get(key, (now, 0, 0))
            if now - start >= self._window:
                start, passed = now, 0
            if passed >= self._burst:
                self._counts[key] = (start, passed, dropped + 1)
                return False
            self._counts[key] = (start, passed + 1, 0)
            if len(self._counts) > 10_000:  # many distinct messages: start counting afresh
                self._counts.clear()
        if dropped:
            record.left_out = dropped
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return self._redact(json.dumps(line, default=str, ensure_ascii=False))


def setup_logging(level: str, redact: Redactor, stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redact))
    handler.addFilter(RepeatLimit(exempt=frozenset({"bot.audit"})))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log adds a line per request; the bot logs what matters itself
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
