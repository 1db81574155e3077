"""Keys made once per test session: RSA 4096 takes up to a second each."""

from __future__ import annotations

import pytest
from lockgate.keys import crypto


@pytest.fixture(scope="session")
def project_key():
    return crypto.generate_secrets_key()


@pytest.fixture(scope="session")
def other_key():
    return crypto.generate_secrets_key()
