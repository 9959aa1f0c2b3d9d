"""Streaming CSV reading with line numbers, raw text for rejected rows, and a progress bar."""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from etl.errors import LoadError

# The reader takes any field (etl/rowparse.py rejects fields over MAX_FIELD); a smaller limit would make
# one huge cell a csv.Error that stops the whole file.
csv.field_size_limit(1 << 30)

# A quoted field may span lines (addresses, narratives), but a record still open after this many lines
# is an unbalanced quote swallowing the rows after it (docs/formats.md, "How rows are counted").
MAX_RECORD_LINES = 50


def normalize_header(name: str) -> str:
    """'Inside/Outside' -> 'inside_outside', 'Lic Regn' -> 'lic_regn', 'Total Incidents' -> 'total_incidents'."""
    name = name.strip().strip("\ufeff").strip('"').lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


@dataclass
class RawRow:
    line_number: int
    raw: str
    fields: list[str]
    # Set when the reader itself refuses the line (an unbalanced quote): the reason to record.
    reason: str | None = None


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


# Zip (xlsx, ods), OLE (xls), PDF, gzip: what a "CSV" really is when it is a spreadsheet or an archive.
_BINARY_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x1f\x8b")


def _wide(encoding: str) -> bool:
    """UTF-16 and UTF-32 text is full of NUL bytes: the binary check must look at the decoded text."""
    name = encoding.lower().replace("_", "-")
    return name.startswith(("utf-16", "utf16", "utf-32", "utf32"))


def sniff_encoding(path: Path, encoding: str) -> str:
    """The encoding to read with: a UTF-16/32 byte-order mark wins over the default utf-8."""
    with open(path, "rb") as f:
        head = f.read(4)
    name = encoding.lower().replace("_", "-")
    if name in ("utf-8", "utf8", "utf-8-sig"):
        for bom, wide in _BOMS:
            if head.startswith(bom):
                return wide
    if name in ("utf-16", "utf16", "utf-32", "utf32") and not any(head.startswith(b) for b, _ in _BOMS):
        # Python's utf-16 codec insists on a byte-order mark: without one, tell the order by the NULs.
        bits = "16" if "16" in name else "32"
        return f"utf-{bits}-be" if head[:1] == b"\x00" else f"utf-{bits}-le"
    return encoding


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
    wide = _wide(encoding)
    if not wide and (head.startswith(_BINARY_MAGIC) or head.count(b"\x00") > max(2, len(head) // 100)):
        raise LoadError(f"{path}: looks like a binary file (spreadsheet or archive?); export it as CSV"
                        " (a UTF-16 file needs a byte-order mark or --encoding utf-16)")
    try:
        text = head.decode(encoding, errors="strict" if not wide else "ignore")
        if wide and "\x00" in text:
            raise LoadError(f"{path}: looks like a binary file (spreadsheet or archive?); export it as CSV")
    except UnicodeDecodeError as exc:
        # The cut at 64 KiB may split a multi-byte character: only complain about earlier bytes.
        if exc.start < len(head) - 4:
            raise LoadError(f"{path}: not valid {encoding} at byte {exc.start}; if it is a Windows export, "
                            "add --encoding cp1252 (or --encoding latin-1)") from None
    except LookupError:
        raise LoadError(f"unknown encoding {encoding!r}; try utf-8, cp1252 or latin-1") from None
    except UnicodeError as exc:
        raise LoadError(f"{path}: not valid {encoding} ({exc})") from None
    if not head.strip() or (wide and not head.decode(encoding, errors="ignore").strip("\ufeff \r\n\t")):
        raise LoadError(f"{path}: the file is empty")


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", "|", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


class CsvSource:
    """Open one delimited file: header, then rows with their line number and raw text."""

    def __init__(self, path: Path, encoding: str = "utf-8", progress: bool = True):
        self.path = path
        if not path.is_file():
            check_readable(path, encoding)
        encoding = sniff_encoding(path, encoding)
        self.encoding = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        self.progress = progress
        check_readable(path, encoding)
        with open(path, encoding=self.encoding, errors="replace", newline="") as f:
            first = f.readline()
        self.delimiter = sniff_delimiter(first)
        self.header_raw = next(csv.reader([first], delimiter=self.delimiter), [])
        self.header = [normalize_header(h) for h in self.header_raw]
        if not any(self.header):
            raise LoadError(f"{path}: the first line is not a header row")

    def rows(self) -> Iterator[RawRow]:
        """Records after the header. A record is one line, or several when a quoted field spans lines;
        a quote that does not close within MAX_RECORD_LINES lines, or closes into a record with the
        wrong number of fields, rejects only its first line and reading resumes on the next."""
        size = self.path.stat().st_size
        width = len(self.header)
        bar = tqdm(total=size, unit="B", unit_scale=True, desc=self.path.name, leave=False,
                   disable=None if self.progress else True, mininterval=0.5)
        try:
            with open(self.path, encoding=self.encoding, errors="strict", newline="") as f:
                lines = _Lines(f)
                try:
                    next(lines, None)  # header
                    yield from self._records(lines, bar, width)
                except UnicodeDecodeError:
                    raise LoadError(f"{self.path}: line {lines.line + 1} is not valid {self.encoding}; "
                                    "if it is a Windows export, add --encoding cp1252") from None
                except csv.Error as exc:
                    raise LoadError(f"{self.path}: line {lines.line}: malformed CSV ({exc})") from None
        finally:
            bar.close()

    def _records(self, lines: _Lines, bar, width: int) -> Iterator[RawRow]:
        while True:
            tap = _LineTap(lines)
            reader = csv.reader(tap, delimiter=self.delimiter)
            try:
                for fields in reader:
                    # A record is suspect when it spans lines with the wrong field count or swallowed whole
                    # rows, when a one-line record has the wrong count and an open quote, or when its last
                    # field ran into the end of the file (it ends with the line break a closing quote
                    # would have preceded).
                    if (len(tap.buffer) > 1 and (len(fields) != width or self._swallowed_rows(tap.buffer, width))
                            or len(fields) != width and self._open_quote_column(tap.buffer[0])
                            or fields and fields[-1].endswith(("\n", "\r"))):
                        yield self._unbalanced(tap.buffer, tap.first, lines)
                        break  # a fresh reader resumes on the line after the one rejected
                    raw, start = "".join(tap.buffer), tap.first
                    tap.reset()
                    bar.update(len(raw))
                    if not fields or (len(fields) == 1 and not fields[0].strip()):
                        continue  # blank line: not a row
                    yield RawRow(start, raw.rstrip("\r\n"), fields)
                else:
                    return  # end of file
            except _OpenTooLong as too_long:
                yield self._unbalanced(too_long.buffer, too_long.first, lines)

    def _swallowed_rows(self, buffer: list[str], width: int) -> bool:
        """True when a line inside a multi-line record is a whole row on its own (or the header again):
        the quote that opened the record was a stray one, not a value spanning lines."""
        for line in buffer[1:-1]:
            if '"' in line:
                continue
            fields = next(csv.reader([line], delimiter=self.delimiter), [])
            if len(fields) == width and width > 1:
                return True
        return False

    def _unbalanced(self, buffer: list[str], first: int, lines: _Lines) -> RawRow:
        """Reject the first line of a record that swallowed the lines after it; push those back."""
        lines.push_back(buffer[1:])
        line = buffer[0]
        column = self._open_quote_column(line)
        where = f" in column {column}" if column else ""
        return RawRow(first, line.rstrip("\r\n"), [],
                      reason=f"unbalanced quote{where}: the quoted value does not close on this line "
                             "(the lines after it are read as rows of their own)")

    def _open_quote_column(self, line: str) -> str | None:
        """The header name of the field whose opening quote never closes on `line`."""
        index, in_quotes, at_start = 0, False, True
        opened = None
        for ch in line.rstrip("\r\n"):
            if in_quotes:
                if ch == '"':
                    in_quotes = False
                continue
            if ch == '"' and at_start:
                in_quotes, opened = True, index
            elif ch == self.delimiter:
                index += 1
                at_start = True
                continue
            at_start = False
        if in_quotes and opened is not None:
            names = self.header_raw
            return names[opened].strip() if opened < len(names) else f"{opened + 1} (past the last header)"
        return None


class _OpenTooLong(Exception):
    """A quoted field has stayed open for MAX_RECORD_LINES lines."""

    def __init__(self, buffer: list[str], first: int):
        super().__init__()
        self.buffer = buffer
        self.first = first


class _Lines:
    """The file's physical lines, numbered, with lines pushed back to be read again."""

    def __init__(self, f):
        self.f = f
        self.line = 0  # number of the last line handed out
        self.pending: deque[str] = deque()

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pending:
            text = self.pending.popleft()
        else:
            text = next(self.f)
        self.line += 1
        return text

    def push_back(self, texts: list[str]) -> None:
        self.pending.extendleft(reversed(texts))
        self.line -= len(texts)


class _LineTap:
    """Feeds csv.reader line by line and keeps the raw lines of the current record."""

    def __init__(self, lines: _Lines):
        self.lines = lines
        self.buffer: list[str] = []
        self.first = lines.line + 1

    def reset(self) -> None:
        self.buffer = []
        self.first = self.lines.line + 1

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if len(self.buffer) >= MAX_RECORD_LINES:
            raise _OpenTooLong(self.buffer, self.first)
        line = next(self.lines)
        self.buffer.append(line)
        return line
