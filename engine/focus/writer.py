"""Write FOCUS rows to a CSV or Parquet file, the two formats FinOps tools import.

CSV keeps every decimal exact as text (plain notation, never an exponent, and always a decimal point, so a reader
that infers column types, as the FinOps Foundation's validator does through pandas, sees a decimal column rather
than an integer one); a date-time is ``YYYY-MM-DDTHH:MM:SSZ`` (FOCUS Date/Time Format); a null is an empty field.

Parquet (through pyarrow, imported only here) types each column: strings, ``timestamp[s, UTC]`` date-times, and
float64 for decimals. FOCUS 1.0 allows a Decimal column a "Double" precision (Numeric Format), FinOps tools read
Parquet money as double, and the validator accepts only floating columns for Decimal; the exact figures are the
CSV's (and the unified rows'). The file is written to a temporary name beside the target and renamed, so a failed
export never leaves a half-written file under the name asked for.
"""

from __future__ import annotations

import csv
import importlib
import os
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .columns import COLUMNS
from .mapping import EXACT

FORMATS = {".csv": "csv", ".parquet": "parquet"}


def output_format(path: Path | str) -> str:
    """``csv`` or ``parquet`` from the file's extension; a ValueError naming the allowed ones otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        shown = suffix or "no extension"
        raise ValueError(f"{path}: {shown} is not an export format; name a .csv or .parquet file")
    return FORMATS[suffix]


def decimal_text(value: Decimal) -> str:
    """``Decimal('18')`` is ``18.0``, ``Decimal('1E-7')`` is ``0.0000001``, ``Decimal('0.250000')`` is ``0.25``:
    plain, exact, with a decimal point, and the same text for the same number from any source (a database's
    NUMERIC(38, 18) pads to 18 places)."""
    text = format(value.normalize(EXACT), "f")
    if text.startswith("-") and value == 0:
        text = text[1:]
    return text if "." in text else f"{text}.0"


def instant_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return instant_text(value)
    return str(value)


class FocusWriter:
    """Rows in, one file out, streamed: CSV row by row, Parquet in row groups of ``batch`` rows, so an export's
    memory is one batch however many rows it has. Use it as a context manager: the file appears under its name only
    when the block ends without an error."""

    def __init__(self, target: Path | str, batch: int = 10_000) -> None:
        self.target = Path(target)
        self.kind = output_format(self.target)
        if not self.target.parent.is_dir():
            raise ValueError(f"{self.target}: the folder {self.target.parent} does not exist")
        self.batch = batch
        self.count = 0
        self._pending: list[Mapping[str, Any]] = []
        self._replacing = _replacing(self.target)
        self._csv: Any = None
        self._handle: Any = None
        self._parquet: Any = None

    def __enter__(self) -> FocusWriter:
        temporary = self._replacing.__enter__()
        if self.kind == "csv":
            self._handle = temporary.open("w", encoding="utf-8", newline="")
            self._csv = csv.writer(self._handle)
            self._csv.writerow(COLUMNS)
        else:
            pq = _module("pyarrow.parquet")

            self._parquet = pq.ParquetWriter(temporary, _arrow_schema())
        return self

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.count += 1
            if self._csv is not None:
                self._csv.writerow([_cell(row[column]) for column in COLUMNS])
            else:
                self._pending.append(row)
                if len(self._pending) >= self.batch:
                    self._flush()

    def _flush(self) -> None:
        if self._parquet is not None and self._pending:
            self._parquet.write_table(_arrow_table(self._pending))
            self._pending = []

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None:
                self._flush()
        finally:
            if self._handle is not None:
                self._handle.close()
            if self._parquet is not None:
                if kind is None and self.count == 0:
                    self._parquet.write_table(_arrow_table([]))  # an empty export still has the columns
                self._parquet.close()
            self._replacing.__exit__(kind, *rest)


def _module(name: str) -> Any:
    """pyarrow, imported only when Parquet is written (it has no type stubs: its objects are Any here)."""
    return importlib.import_module(name)


def _arrow_types() -> dict[str, Any]:
    pa = _module("pyarrow")

    return {"string": pa.string(), "decimal": pa.float64(), "datetime": pa.timestamp("s", tz="UTC")}


def _arrow_schema() -> Any:
    pa = _module("pyarrow")

    types = _arrow_types()
    return pa.schema([pa.field(name, types[kind]) for name, kind in COLUMNS.items()])


def _arrow_table(rows: list[Mapping[str, Any]]) -> Any:
    pa = _module("pyarrow")

    types = _arrow_types()
    columns = {}
    for name, kind in COLUMNS.items():
        values = [row[name] for row in rows]
        if kind == "decimal":
            values = [None if value is None else float(value) for value in values]
        columns[name] = pa.array(values, type=types[kind])
    return pa.Table.from_pydict(columns, schema=_arrow_schema())


def write_focus(rows: Iterable[Mapping[str, Any]], target: Path | str) -> int:
    """Write the rows to ``target`` in the format its extension names; the number of rows written."""
    with FocusWriter(target) as writer:
        writer.write(rows)
    return writer.count


class _replacing:
    """A temporary file beside ``target`` that becomes ``target`` when the block succeeds and is removed when not."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        # A name of this process's own (not mkstemp's, whose file is private to its owner) so the export gets the
        # permissions any file the user writes gets.
        self.temporary = self.target.with_name(f".{self.target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        return self.temporary

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            os.replace(self.temporary, self.target)
        else:
            self.temporary.unlink(missing_ok=True)
