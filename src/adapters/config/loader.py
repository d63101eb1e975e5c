"""Load fedcore's YAML configuration into :class:`adapters.config.schema.FedcoreConfig`.

The file format is waldur-site-agent's, for ``backend_type: waldur`` offerings (docs/configuration.md).
Loading is a pure function of the text and the environment: every problem is collected and raised at
once as :class:`fedcore.errors.ConfigError`, each line naming its path; secrets never appear in them.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml
from cattrs.errors import BaseValidationError

from adapters.config._converter import ENVIRON, structurer, unstructurer
from adapters.config._problems import Problems, problems_of, render
from adapters.config.schema import FedcoreConfig
from fedcore.errors import ConfigError


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that records repeated mapping keys instead of letting the last one win silently."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeats: list[tuple[int, int, Hashable]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                self.repeats.append((key_node.start_mark.line + 1, key_node.start_mark.column + 1, key))
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str, source: str) -> object:
    loader = _StrictLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        # Built from problem and mark only: the default message quotes the offending line, which may hold a token.
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        context = f" ({exc.context})" if exc.context else ""
        raise ConfigError([f"{where}: invalid YAML: {exc.problem}{context}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: invalid YAML: {type(exc).__name__}"]) from None
    finally:
        loader.dispose()
    if loader.repeats:
        raise ConfigError(
            [f"{source}:{line}:{col}: key {key!r} appears twice in one mapping" for line, col, key in loader.repeats]
        )
    return data


def parse_config(
    text_or_mapping: str | Mapping[str, object],
    *,
    source: str = "<string>",
    environ: Mapping[str, str] | None = None,
) -> FedcoreConfig:
    """Build a :class:`FedcoreConfig` from YAML text or already parsed data.

    ``source`` names the text in YAML syntax errors (``config.yaml:12:5: ...``). Token values written
    as ``${NAME}`` are read from ``environ`` (default ``os.environ``). Raises :class:`ConfigError` with
    every problem at once.
    """
    data = _read_yaml(text_or_mapping, source) if isinstance(text_or_mapping, str) else text_or_mapping
    if not isinstance(data, Mapping):
        raise ConfigError([render("", "must be a mapping with an 'offerings' list")])
    token = ENVIRON.set(os.environ if environ is None else environ)
    try:
        return structurer().structure(data, FedcoreConfig)
    except (BaseValidationError, Problems, ValueError) as exc:
        raise ConfigError(problems_of(exc)) from None
    finally:
        ENVIRON.reset(token)


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> FedcoreConfig:
    """Read and parse the configuration file at ``path`` (see :func:`parse_config`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    return parse_config(text, source=str(path), environ=environ)


def dump_config(config: FedcoreConfig, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """``config`` as plain YAML-ready data that :func:`parse_config` reads back to an equal value.

    Secrets are written as ``***`` unless ``reveal_secrets`` is true (only for writing a real file).
    """
    result: dict[str, Any] = unstructurer(reveal_secrets=reveal_secrets).unstructure(config)
    return result
