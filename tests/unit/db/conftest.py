from tests.fixtures.database import db, dburi, module_db  # noqa: F401
from tests.fixtures.postgres import postgres_dburi, postgres_server  # noqa: F401
