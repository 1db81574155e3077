from tests.fixtures.git import git_daemon, upstream  # noqa: F401
