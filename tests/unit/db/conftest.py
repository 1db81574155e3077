from tests.fixtures.database import db, dburi, module_db  # noqa: F401
from tests.fixtures.postgres import (  # noqa: F401
    postgres_database,
    postgres_dburi,
    postgres_server,
)
