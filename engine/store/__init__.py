"""The integrated-accounts store: the Store protocol, one SQL core for SQLite and PostgreSQL, sealed secrets."""

from .model import ACCOUNT_STATUSES, Account, ApiToken, Store
from .sql import DATABASE_URL_ENV, PostgresStore, SqliteStore, database_url, open_store

__all__ = [
    "ACCOUNT_STATUSES",
    "DATABASE_URL_ENV",
    "Account",
    "ApiToken",
    "PostgresStore",
    "SqliteStore",
    "Store",
    "database_url",
    "open_store",
]
