"""Git helpers shared by the scheduler, the executor and the drivers.

- ``lockgate.git.cmd``: running ``git`` with a clean environment, and
  ``ls_remote`` (what the git driver's source and poller ask a remote).
- ``lockgate.git.repo_cache``: ``RepoCache``, one bare mirror per repository
  on local disk, from which the scheduler reads configuration files at a
  branch head (straight from git objects, no checkout) and the executor
  makes working trees for jobs.

We call the ``git`` binary rather than GitPython: every operation here is a
single git command whose output we parse, and the binary is what we measure
(INFRA-NOTES: a local clone of a 1000-commit repository takes ~0.1 s).
"""

from lockgate.git.cmd import ZERO_SHA, GitError, RefNotFound, ls_remote, run_git
from lockgate.git.repo_cache import RepoCache

__all__ = ["ZERO_SHA", "GitError", "RefNotFound", "RepoCache", "ls_remote", "run_git"]
