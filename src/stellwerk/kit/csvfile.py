"""CSV in and out, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def restore_cell(text: str) -> str:
    """The inverse of `safe_cell`: a file written by `write_csv` reads back as it was."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_PREFIXES):
        return text[1:]
    return text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def read_csv(text: str, *, delimiter: str = ",") -> list[dict[str, str]]:
    """Rows keyed by the lower-cased header; a byte-order mark is ignored, and cells that
    `safe_cell` defused read back as they were written."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=delimiter)
    if reader.fieldnames is None:
        return []
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    return [
        {k: restore_cell((v or "").strip()) for k, v in row.items() if k is not None}
        for row in reader
    ]
