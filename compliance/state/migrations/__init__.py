"""The store's schema migrations (Alembic), shipped inside the package so that an installed
wheel can create and upgrade a store. Run through `compliance.state.migrate`, never by hand."""
