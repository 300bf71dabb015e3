"""The records API over HTTP, on SQLite and PostgreSQL."""
