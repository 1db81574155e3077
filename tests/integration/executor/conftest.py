from tests.fixtures.git import upstream  # noqa: F401
