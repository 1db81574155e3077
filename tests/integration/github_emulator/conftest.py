from tests.fixtures.github.fixture import github_emulator  # noqa: F401
from tests.integration.github_emulator.helpers import receiver  # noqa: F401
