"""Branch and file matchers: Zuul's regular-expression selectors.

The layout builder (``lockgate.config.layout``) compiles every ``branches``,
``files`` and ``irrelevant-files`` value into one of these once, at load time;
the job-graph freezer (``lockgate.config.freeze``) only calls ``matches``.

Zuul accepts a regular expression either as a string or as a mapping
``{regex: ..., negate: bool}``, alone or in a list; a list matches when any
member does.  Zuul evaluates them with RE2, whose syntax is a subset of
Python's with one tolerance real configurations rely on: a repetition of an
empty-width anchor (``^*``) is accepted and means the anchor.  We accept that
too, so OpenDev's own configuration loads.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Gerrit lists these pseudo-files with every change; they are never
# evidence that a job is relevant or irrelevant.
MAGIC_FILES = frozenset({"/COMMIT_MSG", "/MERGE_LIST", "/PATCHSET_LEVEL"})

_ANCHOR_REPEAT = re.compile(r"(?<!\\)([\^$])[*+?]")


class RegexError(ValueError):
    """A pattern that is not a valid regular expression (message is user-facing)."""


try:  # Zuul's regex engine, when installed (a dependency of Lockgate)
    import re2 as _re2
except ImportError:  # pragma: no cover - the fallback keeps tools working
    _re2 = None


@functools.lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> Any:
    """Compile ``pattern`` as Zuul does: with RE2 when available, else with
    Python's ``re`` plus RE2's tolerance for repeated anchors."""
    if _re2 is not None:
        try:
            return _re2.compile(pattern)
        except Exception:  # noqa: BLE001 - re2 raises its own error types
            pass  # fall back: Zuul also accepts Python syntax RE2 lacks
    try:
        return re.compile(pattern)
    except re.error as first:
        relaxed = _ANCHOR_REPEAT.sub(r"\1", pattern)
        if relaxed != pattern:
            try:
                return re.compile(relaxed)
            except re.error:
                pass
        raise RegexError(f"invalid regular expression {pattern!r}: {first}") from None


@dataclass(frozen=True)
class Regex:
    """One Zuul regular expression, possibly negated.

    Like Zuul, it matches at the start of the string (``re.match``), not the
    whole string, so ``stable/`` matches every stable branch.
    """

    pattern: str
    negate: bool = False
    compiled: Any = field(default=None, compare=False, hash=False)

    def matches(self, value: str) -> bool:
        assert self.compiled is not None
        found = self.compiled.match(value) is not None
        return found != self.negate


def parse_regexes(value: Any) -> tuple[Regex, ...]:
    """A Zuul regex value (string, ``{regex, negate}``, or list of them).

    Raises ``RegexError`` with a user-facing message on bad input.
    """
    items = value if isinstance(value, list) else [value]
    out: list[Regex] = []
    for item in items:
        if isinstance(item, dict):
            pattern = item.get("regex")
            negate = bool(item.get("negate", False))
        else:
            pattern, negate = item, False
        if not isinstance(pattern, str):
            raise RegexError(f"expected a regular expression, got {pattern!r}")
        out.append(Regex(pattern, negate, compile_regex(pattern)))
    return tuple(out)


@dataclass(frozen=True)
class BranchMatcher:
    """Which branches a job variant, template or project stanza applies to.

    ``implied`` is true when Zuul added it (the branch the definition was
    read from, or the file's ``pragma: implied-branches``) rather than the
    author; the distinction shows in the API and in error messages.
    """

    regexes: tuple[Regex, ...]
    implied: bool = False

    def matches(self, branch: str | None) -> bool:
        if branch is None:
            # An item without a branch (a tag or ref) is not restricted here;
            # the scheduler resolves tags to branches before freezing.
            return True
        return any(r.matches(branch) for r in self.regexes)

    @property
    def patterns(self) -> list[str]:
        return [r.pattern for r in self.regexes]


def implied_branch_matcher(branches: Sequence[str], exact: bool) -> BranchMatcher:
    """An implied matcher: exact branch names, or the pragma's regexes."""
    if exact:
        regexes = tuple(Regex(b, False, re.compile(re.escape(b) + r"\Z")) for b in branches)
        return BranchMatcher(regexes, implied=True)
    return BranchMatcher(parse_regexes(list(branches)), implied=True)


def _relevant(files: Iterable[str]) -> list[str]:
    return [f for f in files if f not in MAGIC_FILES]


def files_match(regexes: tuple[Regex, ...], files: Sequence[str] | None) -> bool:
    """``files``: the job runs when any changed file matches.

    A ref with no file list (a merge commit, a timer item) ignores the
    filter, as Zuul does.
    """
    if not files:
        return True
    return any(r.matches(f) for f in _relevant(files) for r in regexes)


def irrelevant_files_match(regexes: tuple[Regex, ...], files: Sequence[str] | None) -> bool:
    """``irrelevant-files``: true (skip the job) when every changed file matches."""
    if not files:
        return False
    return all(any(r.matches(f) for r in regexes) for f in _relevant(files))
