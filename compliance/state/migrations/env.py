"""Alembic's environment: migrate the connection that `compliance.state.migrate` hands over.

The caller has begun the transaction and taken the store's write lock; the migrations run
inside it, so a store is upgraded whole or not at all.
"""

from alembic import context

from compliance.state.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",   # SQLite alters tables by copying them
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
