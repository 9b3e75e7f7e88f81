"""A fresh PostgreSQL database per test on the session's server, for the queue tests.

Why a database and not a schema: Procrastinate's tables, the accounts store's and the sync destination's dataset
(a schema of its own) then start empty for each test, so the jobs and rows one test leaves are never another's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str, prefix: str = "unimeter_queue") -> Iterator[str]:
    name = f"{prefix}_{uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
