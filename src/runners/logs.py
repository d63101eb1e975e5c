"""fedcore's log output: readable lines by default, one JSON object per line for machines; never a secret.

Built on the standard library's :mod:`logging`, not structlog: the adapters (``adapters.waldur``) and httpx already
log through it, so one handler set up here covers every line, and the few context fields fedcore needs travel in
``extra=`` (:func:`order_context`). No dependency is added for it.

Every line about an order carries ``offering``, ``a_order`` and, once known, ``b_order``: the same UUIDs Waldur A
and Waldur B show, so a person can follow one order across A, fedcore and B. Secrets never reach the output: the
formatter replaces every configured token (and any other secret of the configuration) in the finished line,
tracebacks included, by ``***``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterable
from typing import IO, Any

CONTEXT_FIELDS = ("offering", "mode", "order_type", "a_order", "b_order", "server")
"""``extra=`` keys the formatters show, in this order, when a record has them."""

FORMATS = ("text", "json")
"""Values of ``--log-format``."""

MIN_SECRET_LENGTH = 4
"""Shorter values are not searched for: replacing every "ab" in the output would hide more than it protects."""

_HANDLER_NAME = "fedcore"


def order_context(offering: str, a_order: str, b_order: str | None = None, order_type: str = "") -> dict[str, str]:
    """``extra=`` for a line about one order: the offering, the A order and, when known, the B order."""
    context = {"offering": offering, "a_order": a_order}
    if b_order:
        context["b_order"] = b_order
    if order_type:
        context["order_type"] = order_type
    return context


class _Redacting(logging.Formatter):
    """Formats a record, then removes every secret from the finished text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        shown = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # A secret inside a JSON string may come out escaped; look for that spelling too.
        shown |= {json.dumps(s)[1:-1] for s in shown}
        self._secrets = sorted(shown, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @staticmethod
    def _time(record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @staticmethod
    def _context(record: logging.LogRecord) -> dict[str, Any]:
        return {k: getattr(record, k) for k in CONTEXT_FIELDS if getattr(record, k, None) not in (None, "")}


class TextFormatter(_Redacting):
    """``2025-01-31T12:00:00.000Z INFO fedcore.daemon: message offering='HPC' a_order=… b_order=…``."""

    def format(self, record: logging.LogRecord) -> str:
        """One readable line (plus the traceback, if any)."""
        context = " ".join(f"{k}={v!r}" if k in ("offering", "mode") else f"{k}={v}"
                           for k, v in self._context(record).items())
        line = f"{self._time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if context:
            line += f" [{context}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self.redact(line)


class JsonFormatter(_Redacting):
    """``{"time": …, "level": …, "logger": …, "message": …, "offering": …, "a_order": …}``, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON object on one line."""
        data: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **self._context(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(data, default=str, ensure_ascii=False))


def configure_logging(
    level: str, log_format: str = "text", *, secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log line of the process to ``stream`` (stderr) at ``level``, formatted as ``log_format``.

    Calling it again replaces the handler it installed before (the CLI first logs with no secrets known, then
    again once the configuration is loaded). httpx's per-request lines show only at ``DEBUG``; httpcore's
    connection chatter never.
    """
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; known: {', '.join(FORMATS)}")
    formatter: logging.Formatter = (JsonFormatter if log_format == "json" else TextFormatter)(secrets)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    logging.getLogger("httpx").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # stomp.py narrates every connection attempt at INFO; fedcore's own lines say what matters (adapters.stomp).
    logging.getLogger("stomp.py").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
    return handler
