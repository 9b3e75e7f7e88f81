"""Sync jobs on a PostgreSQL-backed task queue, so that ``unimeter worker`` processes on any number of machines share
the work of syncing many accounts.

Why Procrastinate rather than a queue of our own: it is a well-kept PostgreSQL task queue that already has what a
shared sync needs, each in the database every worker sees: a ``lock`` (one running job per account), retries
with backoff, periodic tasks deferred once however many processes run them, and worker heartbeats that tell a
stalled job from a slow one. Jobs carry account ids and options only, never a credential or a destination URL:
each worker reads the account (sealed in the accounts store) and writes to the destination it was started with.

Nothing here is imported on the way to ``unimeter usage``: the CLI imports this package inside its ``worker`` and
``sync --enqueue/--schedule`` commands only, and :mod:`.settings` (what the CLI checks first) imports no queue code.
"""
