"""Streaming CSV reading with line numbers, raw text for rejected rows, and a progress bar."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from etl.errors import LoadError

csv.field_size_limit(10_000_000)


def normalize_header(name: str) -> str:
    """'Inside/Outside' -> 'inside_outside', 'Lic Regn' -> 'lic_regn', 'Total Incidents' -> 'total_incidents'."""
    name = name.strip().strip("\ufeff").strip('"').lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


@dataclass
class RawRow:
    line_number: int
    raw: str
    fields: list[str]


def check_readable(path: Path, encoding: str) -> None:
    """Fail fast, before any database work, on a wrong path, an empty file or a bad encoding."""
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    if path.is_dir():
        raise LoadError(f"{path}: is a directory; name the files to load (e.g. {path}/*.csv)")
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    with open(path, "rb") as f:
        head = f.read(65536)
    if b"\x00" in head:
        raise LoadError(f"{path}: looks like a binary file (spreadsheet or archive?); export it as CSV")
    try:
        head.decode(encoding)
    except UnicodeDecodeError as exc:
        # The cut at 64 KiB may split a multi-byte character: only complain about earlier bytes.
        if exc.start < len(head) - 4:
            raise LoadError(f"{path}: not valid {encoding} at byte {exc.start}; if it is a Windows export, "
                            "add --encoding cp1252 (or --encoding latin-1)") from None
    except LookupError:
        raise LoadError(f"unknown encoding {encoding!r}; try utf-8, cp1252 or latin-1") from None
    if not head.strip():
        raise LoadError(f"{path}: the file is empty")


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", "|", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


class CsvSource:
    """Open one delimited file: header, then rows with their line number and raw text."""

    def __init__(self, path: Path, encoding: str = "utf-8", progress: bool = True):
        self.path = path
        self.encoding = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        self.progress = progress
        check_readable(path, encoding)
        with open(path, encoding=self.encoding, errors="replace", newline="") as f:
            first = f.readline()
        self.delimiter = sniff_delimiter(first)
        self.header_raw = next(csv.reader([first], delimiter=self.delimiter))
        self.header = [normalize_header(h) for h in self.header_raw]
        if not any(self.header):
            raise LoadError(f"{path}: the first line is not a header row")

    def rows(self) -> Iterator[RawRow]:
        size = self.path.stat().st_size
        bar = tqdm(total=size, unit="B", unit_scale=True, desc=self.path.name, leave=False,
                   disable=None if self.progress else True, mininterval=0.5)
        try:
            with open(self.path, encoding=self.encoding, errors="strict", newline="") as f:
                tap = _LineTap(f)
                reader = csv.reader(tap, delimiter=self.delimiter)
                try:
                    next(reader)  # header
                    tap.buffer.clear()
                    for fields in reader:
                        raw = "".join(tap.buffer)
                        start = tap.line - len(tap.buffer) + 1
                        tap.buffer.clear()
                        bar.update(len(raw))
                        if not fields or (len(fields) == 1 and not fields[0].strip()):
                            continue  # blank line: not a row
                        yield RawRow(start, raw.rstrip("\r\n"), fields)
                except UnicodeDecodeError:
                    raise LoadError(f"{self.path}: line {tap.line + 1} is not valid {self.encoding}; "
                                    "if it is a Windows export, add --encoding cp1252") from None
                except csv.Error as exc:
                    raise LoadError(f"{self.path}: line {tap.line}: malformed CSV ({exc})") from None
        finally:
            bar.close()


class _LineTap:
    """Feeds csv.reader line by line and keeps the raw lines of the current record."""

    def __init__(self, f: io.TextIOBase):
        self.f = f
        self.buffer: list[str] = []
        self.line = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.line += 1
        self.buffer.append(line)
        return line
