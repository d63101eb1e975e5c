"""Turning cattrs' structuring failures into path-shaped problem lines.

cattrs (with detailed validation) raises a tree of exception groups whose notes name the attribute,
index or mapping key at each level; this module walks that tree and renders each leaf as
``offerings[0].backend_settings.target_api_url: required``. Messages never include a secret value:
the hooks that handle secrets never put one into an exception.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

import attrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-]+")

REJECTED_KEYS = {
    "oidc_token_url": "OIDC client credentials are not supported by fedcore; set waldur_api_token",
    "oidc_client_id": "OIDC client credentials are not supported by fedcore; set waldur_api_token",
    "oidc_client_secret": "OIDC client credentials are not supported by fedcore; set waldur_api_token",
}
"""Keys the existing agent accepts that fedcore refuses with a specific reason instead of "unknown key"."""


class Problems(Exception):
    """Problems found by a hook after structuring: ``(path relative to the hook's value, message)`` pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = tuple(problems)


def segment(key: object) -> str:
    """One path step for a mapping key: ``.name`` for plain names, ``['odd.name']`` otherwise."""
    if isinstance(key, str) and _PLAIN_NAME.fullmatch(key):
        return f".{key}"
    return f"[{key!r}]"


def _step(rel: str) -> str:
    return rel if not rel or rel.startswith((".", "[")) else f".{rel}"


def join(path: str, step: str) -> str:
    """``path`` followed by ``step`` (a ``.name``, ``[i]`` or ``['key']``), without a leading dot."""
    joined = f"{path}{step}"
    return joined[1:] if joined.startswith(".") else joined


def render(path: str, message: str) -> str:
    """One problem line; the root is called ``(top level)``."""
    return f"{path or '(top level)'}: {message}"


def problems_of(exc: BaseException, path: str = "") -> list[str]:
    """Every leaf problem of a structuring failure, each prefixed by its path below ``path``."""
    if isinstance(exc, Problems):
        return [render(join(path, _step(rel)), message) for rel, message in exc.problems]
    if isinstance(exc, ForbiddenExtraKeysError):
        return [_unknown_key(path, key, exc.cl) for key in sorted(exc.extra_fields)]
    if isinstance(exc, ClassValidationError | IterableValidationError):
        lines: list[str] = []
        for sub in exc.exceptions:
            lines.extend(_child_problems(sub, path))
        return lines
    if isinstance(exc, KeyError):
        return [render(path, "required")]
    return [render(path, str(exc))]


def _child_problems(sub: BaseException, path: str) -> list[str]:
    for note in getattr(sub, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return problems_of(sub, join(path, f".{note.name}"))
        if isinstance(note, IterableValidationNote):
            if note.startswith("Structuring mapping key"):
                return [render(join(path, segment(note.index)), f"invalid key: {sub}")]
            if isinstance(note.index, int) and "mapping" not in note:
                return problems_of(sub, join(path, f"[{note.index}]"))
            return problems_of(sub, join(path, segment(note.index)))
    return problems_of(sub, path)


def known_keys(cl: type) -> list[str]:
    """The YAML keys an attrs class accepts (its field names, private underscores stripped)."""
    return [a.alias or a.name for a in attrs.fields(cl)]


def _unknown_key(path: str, key: str, cl: type) -> str:
    where = join(path, segment(key))
    if key in REJECTED_KEYS:
        return render(where, REJECTED_KEYS[key])
    known = known_keys(cl)
    hint = _did_you_mean(key, known)
    return render(where, f"unknown key{hint}; known keys here: {', '.join(sorted(known))}")


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
