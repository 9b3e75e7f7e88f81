"""FOCUS (the FinOps Open Cost and Usage Specification) from unified rows: the export FinOps tools import.

- :mod:`.columns`: the FOCUS 1.0 columns and unimeter's ``x_`` columns, each with its kind;
- :mod:`.mapping`: one unified row to its FOCUS rows (pure; the column choices are documented there and in
  docs/focus.md);
- :mod:`.writer`: CSV and Parquet files;
- :mod:`.export`: the rows of a live query over the store's accounts;
- :mod:`.view`: the same mapping in SQL over a sync destination's tables (its ``focus`` view), for DuckDB and
  PostgreSQL; :mod:`.synced` runs it for ``export focus --from``;
- :mod:`.command`: ``unimeter export focus``.

Nothing here is imported by ``unimeter`` itself: the package loads when an export or a sync asks for it.
"""

from __future__ import annotations

from .columns import COLUMNS, CUSTOM_COLUMNS, FOCUS_COLUMNS, FOCUS_VERSION
from .mapping import FocusSource, default_focus, focus_rows, focus_source
from .writer import FocusWriter, write_focus

__all__ = [
    "COLUMNS",
    "CUSTOM_COLUMNS",
    "FOCUS_COLUMNS",
    "FOCUS_VERSION",
    "FocusSource",
    "FocusWriter",
    "default_focus",
    "focus_rows",
    "focus_source",
    "write_focus",
]
