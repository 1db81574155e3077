from tests.fixtures.git import upstream  # noqa: F401
from tests.fixtures.sshd import sshd_node  # noqa: F401
