"""A pytest plugin for minibase projects and for minibase's own tests.

Fixtures: `backend` (sqlite / postgres), `settings`, `services`, `app`, `client` (httpx over
ASGI), `admin` (an admin caller with a token), `make_user` (a user with tokens), `clock`.
PostgreSQL databases are cloned per test from a migrated template database.
"""
