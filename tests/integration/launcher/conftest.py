from tests.fixtures.launcher import local_provider, ssh_keypair  # noqa: F401
