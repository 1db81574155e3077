"""Alembic's entry point: runs migrations on the connection ``migrate.upgrade`` gives.

There is no alembic.ini: ``lockgate.db.migrate`` builds the Alembic config in
code and passes the open connection (already holding the migration lock) and
the table prefix in ``config.attributes``.
"""

from __future__ import annotations

from alembic import context
from lockgate.db.schema import VERSION_TABLE

config = context.config
connection = config.attributes["connection"]
prefix = config.attributes.get("table_prefix", "")

context.configure(
    connection=connection,
    target_metadata=None,
    version_table=prefix + VERSION_TABLE,
    # SQLite cannot ALTER most things; batch mode copies tables instead.
    render_as_batch=True,
    transactional_ddl=connection.dialect.name != "mysql",
)
with context.begin_transaction():
    context.run_migrations()
