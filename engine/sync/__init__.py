"""``unimeter sync``: incremental, idempotent loading of every integrated account's usage into DuckDB or PostgreSQL.

Importing this package does not import dlt (``warehouse`` does, when a sync opens its destination), so the command
line's start-up stays as fast as before.
"""

from .runner import StreamResult, SyncOptions, SyncReport, sync
from .warehouse import Destination, SyncDestinationError, parse_destination

__all__ = [
    "Destination",
    "StreamResult",
    "SyncDestinationError",
    "SyncOptions",
    "SyncReport",
    "parse_destination",
    "sync",
]
