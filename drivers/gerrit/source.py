"""``GerritSource``: what a Gerrit server knows about projects and changes.

Who calls it: the scheduler (branches, branch heads, changes and their
dependencies, ``Depends-On:`` URLs) and the executor (clone URLs).  It
implements ``Source`` and ``ChangeSource`` from ``lockgate.drivers.base``.

Git goes over SSH (``ssh://user@server:port/project``) unless the connection
has a password and not ``git_over_ssh``; then over HTTP as
``{baseurl}/a/project`` with the credentials in the URL (git takes them no
other way without a prompt; ``lockgate.git`` masks them in every message,
and nothing here logs a URL).  Git over SSH needs the connection's key and
known hosts: ``git_env()`` is the environment to pass to ``lockgate.git``
(``run_git(..., env=source.git_env())``, ``ls_remote(url, env=...)``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from lockgate.git import ls_remote
from lockgate.model.change import Change

if TYPE_CHECKING:
    from lockgate.drivers.gerrit.connection import GerritConnection

# What follows the base URL in the URLs Gerrit has given changes over the
# years: ``/12345``, ``/c/12345``, ``/#/c/12345``, ``/c/project/+/12345``,
# ``/#/c/project/+/12345``, each maybe with ``/<patchset>[/...]``, a slash,
# a query or a fragment after it.
_CHANGE_PATH = re.compile(
    r"^/(?:#/)?(?:c/(?:(?P<project>.+?)/\+/)?)?(?P<number>[0-9]+)(?:/[^?#]*)?/?(?:[?#].*)?$"
)


def change_number_in(baseurl: str, url: str) -> int | None:
    """The change number ``url`` names, if it is under ``baseurl`` (scheme
    and a trailing slash ignored, as users copy either)."""
    base = urlsplit(baseurl.rstrip("/"))
    try:
        found = urlsplit(url.strip())
    except ValueError:
        return None
    if not found.netloc or found.netloc.lower() != base.netloc.lower():
        return None
    path = found.path
    if found.fragment:
        path += "#" + found.fragment
    prefix = base.path.rstrip("/")
    if not path.startswith(prefix + "/"):
        return None
    match = _CHANGE_PATH.match(unquote(path[len(prefix) :]))
    return int(match.group("number")) if match else None


class GerritSource:
    numbers_per_project = False

    def __init__(self, connection: GerritConnection) -> None:
        self.connection = connection

    # --- Source -----------------------------------------------------------------------

    @property
    def connection_name(self) -> str:
        return self.connection.name

    @property
    def canonical_hostname(self) -> str:
        return self.connection.canonical_hostname

    def clone_url(self, project: str) -> str:
        return self.connection.config.clone_url(project)

    def canonical_name(self, project: str) -> str:
        return f"{self.canonical_hostname}/{project.strip('/')}"

    def git_env(self) -> dict[str, str]:
        """Environment for git commands on this source's clone URLs."""
        return self.connection.config.git_env()

    def _refs(self, project: str) -> dict[str, str]:
        return ls_remote(self.clone_url(project), env=self.git_env())

    def get_branches(self, project: str) -> list[str]:
        refs = self._refs(project)
        return sorted(r[len("refs/heads/") :] for r in refs if r.startswith("refs/heads/"))

    def get_ref_sha(self, project: str, ref: str) -> str | None:
        full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        return self._refs(project).get(full)

    # --- ChangeSource -----------------------------------------------------------------

    def get_change(
        self, number: int, patchset: int | str | None = None, *, project: str | None = None
    ) -> Change:
        # Gerrit numbers changes per server: ``project`` adds nothing.
        return self.connection.query().get_change(
            number, None if patchset is None else int(patchset)
        )

    def change_number_from_url(self, url: str) -> int | None:
        return change_number_in(self.connection.baseurl, url)

    def open_changes_by_commit(self, project: str, commits: list[str]) -> list[Change]:
        return self.connection.query().open_changes_by_commit(project, commits)

    def changes_needing(self, change: Change) -> list[Change]:
        return self.connection.query().changes_needing(change)

    def changes_updated_since(self, since: float) -> list[Change]:
        return self.connection.query().changes_updated_since(since)
