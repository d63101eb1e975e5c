"""fedcore's log output: readable or JSON lines, the order's identifiers on both sides, and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from daemon_kit import TOKENS, Worlds, config, daemon

from runners.daemon_cli import config_secrets
from runners.logs import configure_logging, order_context

pytestmark = pytest.mark.unit

SECRET = "s3cr3t-token-" + "9" * 24


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_carry_the_order_context_after_the_message() -> None:
    out = io.StringIO()
    configure_logging("INFO", "text", stream=out)
    logging.getLogger("fedcore.orders").info("order %s", "completed",
                                             extra=order_context("HPC", "a" * 32, "b" * 32, "Create"))
    logging.getLogger("fedcore.orders").debug("not shown at INFO")
    [line] = out.getvalue().splitlines()
    assert line.endswith(f"INFO fedcore.orders: order completed [offering='HPC' order_type=Create "
                         f"a_order={'a' * 32} b_order={'b' * 32}]")
    assert line[:4].isdigit()
    assert "Z INFO" in line


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_are_one_object_each_with_the_context_as_fields() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    logging.getLogger("fedcore.orders").debug("waiting", extra=order_context("HPC", "a" * 32))
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("fedcore.daemon").exception("crashed", extra={"offering": "HPC", "mode": "report"})
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "logger", "message", "offering", "a_order")} == {
        "level": "DEBUG", "logger": "fedcore.orders", "message": "waiting", "offering": "HPC", "a_order": "a" * 32}
    assert "b_order" not in first
    assert first["time"].endswith("Z")
    assert (second["mode"], second["level"]) == ("report", "ERROR")
    assert "ValueError: boom" in second["exception"]


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_secret_never_reaches_the_output_even_in_a_traceback(log_format: str) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", log_format, secrets=[SECRET, "ab"], stream=out)
    log = logging.getLogger("anything")
    log.debug("token %s in a message", SECRET)
    log.info("quoted %r, a table", f'"{SECRET}"')
    try:
        raise RuntimeError(f"Authorization: Token {SECRET}")
    except RuntimeError:
        log.exception("failed")
    text = out.getvalue()
    assert SECRET not in text
    assert text.count("***") >= 3
    assert "a table" in text  # "ab" is too short to be searched for


@pytest.mark.usefixtures("restore_logging")
def test_logging_again_replaces_the_handler_and_httpx_speaks_only_at_debug() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("DEBUG", "text", stream=first)
    assert logging.getLogger("httpx").level == logging.DEBUG
    configure_logging("warning", "text", stream=second)
    logging.getLogger("x").warning("once")
    assert (first.getvalue(), second.getvalue().count("once")) == ("", 1)
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure_logging("INFO", "xml")


@pytest.mark.usefixtures("restore_logging")
def test_a_pass_at_debug_shows_neither_token() -> None:
    cfg = config("hpc", sentry_dsn="https://key-" + "5" * 20 + "@sentry.example.org/1")
    secrets = config_secrets(cfg)
    assert set(TOKENS) <= set(secrets)
    assert len(secrets) == 3
    out = io.StringIO()
    configure_logging("DEBUG", "text", secrets=secrets, stream=out)
    worlds = Worlds()
    runner = daemon(cfg, worlds)
    worlds.order("hpc")
    runner.tick()
    logging.getLogger("fedcore.test").debug("the tokens are %s and %s", *TOKENS)
    text = out.getvalue()
    assert "fedcore.orders" in text
    assert not [s for s in secrets if s in text]
