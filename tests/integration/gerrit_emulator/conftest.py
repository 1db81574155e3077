from tests.fixtures.gerrit.fixture import gerrit  # noqa: F401
