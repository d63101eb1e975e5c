"""What ``validate`` and ``status`` share at the command line: the ``-c CONFIG`` option, loading the file with
every problem reported at once, and output that can never carry a token.

Tokens are kept out of every message by construction (``Secret`` never prints, adapter errors name the call, not
the request's headers); :class:`SafeOutput` is the last line of defence: it replaces any secret of the loaded
configuration that still reaches the terminal with ``***``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the command modules import this one when the parser is built: keep that cheap
    from adapters.config import FedcoreConfig, Secret

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter secrets are not masked: replacing two letters everywhere would garble the output, not protect it."""


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """``-c/--config CONFIG``: the YAML file (waldur-site-agent's format, docs/configuration.md)."""
    parser.add_argument("-c", "--config", required=True, metavar="CONFIG",
                        help="the configuration file (waldur-site-agent's YAML format); ${NAME} tokens come from "
                             "the environment")


def load(path: str, err: TextIO) -> FedcoreConfig | None:
    """The configuration at ``path``, or None after writing every problem (each with its path) to ``err``."""
    from adapters.config import load_config
    from fedcore.errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        err.write(f"{path}: {exc}\n")
        return None


def secrets_of(config: FedcoreConfig) -> tuple[str, ...]:
    """Every secret value of ``config`` (both tokens of each offering, ``sentry_dsn``, ``global_proxy``)."""
    found: list[Secret | None] = [config.sentry_dsn, config.global_proxy]
    for offering in config.offerings:
        found += [offering.waldur_api_token, offering.backend_settings.target_api_token]
    values = {s.reveal() for s in found if s is not None}
    return tuple(sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (longest first, so one secret inside another goes whole)."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class SafeOutput:
    """A text stream that masks the configuration's secrets in everything written through it."""

    def __init__(self, stream: TextIO, secrets: Iterable[str] = ()) -> None:
        self._stream = stream
        self._secrets = tuple(secrets)

    def line(self, text: str = "") -> None:
        """Write ``text`` and a newline."""
        self._stream.write(scrub(text, self._secrets) + "\n")

    def flush(self) -> None:
        """Flush the underlying stream."""
        self._stream.flush()
