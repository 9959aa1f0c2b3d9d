"""A vectorised fast path for the two big kinds (incidents, shots): the whole file read at once with
polars and the staging values of its ordinary rows computed column by column. The per-row parsers
(etl/sources/incidents.py, shots.py) stay the reference: every row this module does not certify is
handed back to them, so every reason a row is rejected for still comes from them alone.

Safe or nothing. The file is read in windows of whole lines (`fast_windows`, so memory stays bounded
whatever its size); any window that fails the checks raises `NotFast`, and the loader then reads the
whole file row by row as before, unless every record is exactly one physical line that the csv module
and polars split alike: decodable, no NUL byte, no carriage return but in CRLF line ends, every
non-blank line well-formed CSV (a quote only around a whole field, doubled inside it) with the header's
number of fields and no longer than a field may be. Line numbers and raw texts are then those of the
physical lines, as etl/reader.py gives them.

Certified values are exact by construction in two ways: what a few distinct values decide (codes,
districts, spellings, counts, ages) is computed by calling the parser's own functions on each distinct
value (`by_value`); only dates and coordinates are computed in polars, for the one or two plain
shapes real exports use (`instants`, `points`), everything else goes back to the parser. Those columns are
computed in etl/vector_columns.py.
tests/db/test_vector_load.py holds both ways to the same staged rows and rejects.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import polars as pl
from tqdm import tqdm

from etl import vector_columns
from etl.parse import FORMULA_START

# Switched off, loads take the row path only (tests compare the two ways).
ENABLED = True
# The fast path holds a window of the file's lines (WINDOW_CHARS characters of whole lines) and the COPY
# text of its certified rows in memory, and computes the columns of CHUNK_ROWS lines at a time. A year of
# 10x incidents (410k rows, 103 MB) peaks at 359 MB with 8M-character windows, 624 MB with 32M, in the same
# 2.8-2.9 s; reading the next window ahead (_ahead) took the whole load's peak from 368 to 386 MB. Before
# windows the whole file was held, so a file over 256 MB was read row by row: every yearly incident file at
# 100x, and 10x's five years in one file (2M rows: staged in 42 s, now 16 s).
WINDOW_CHARS = 8 << 20
CHUNK_ROWS = 50_000
_DELIMITER = {",": ",", "\t": r"\t", "|": r"\|", ";": ";"}
# A well-formed field: quoted (quotes inside doubled) or without any quote.
_QUOTED = r'"(?:[^"]|"")*"'
_FORMULA = "^[" + "".join("\\" + c if c in "-+" else c for c in FORMULA_START) + "]"
NULL = r"\N"  # the COPY's NULL marker: a certified text value never equals it


class NotFast(Exception):
    """A window of the file the fast path cannot read: the loader reads the whole file row by row."""


@dataclass
class FastRows:
    """A file read the fast way: how many records, the certified rows' staging values (line_number
    then the source's staging columns, in order) and the last line number of each chunk of lines, how
    many certified rows, and the other rows as (line number, fields, raw)."""

    read: int
    staged: list[tuple[pl.DataFrame, int]]
    certified: int
    fallback: list[tuple[int, list[str], str]]

    @staticmethod
    def joined(parts: list[FastRows]) -> FastRows:
        """The windows of one file as one (what the tests compare with the row path)."""
        return FastRows(sum(p.read for p in parts), [s for p in parts for s in p.staged],
                        sum(p.certified for p in parts), [f for p in parts for f in p.fallback])

    def copy_csv(self, parsed: list[tuple[int, tuple]]) -> Iterator[bytes]:
        """COPY ... (FORMAT csv, NULL '\\N') text of the certified rows and of `parsed` (line number and
        staging values of the fallback rows the parser loaded) in line order, as the row path stages
        them: the deduplication's sort then finds its input nearly sorted (unsorted costs it ~50%).
        No text value is taken for the NULL marker (certified text never equals it)."""
        i = 0
        for frame, last in self.staged:
            j = i
            while j < len(parsed) and parsed[j][0] <= last:
                j += 1
            quote = "necessary"
            if j > i:
                rows = [(number, *(_value(v) for v in values)) for number, values in parsed[i:j]]
                frame = frame.merge_sorted(pl.DataFrame(rows, schema=frame.schema, orient="row"), "line_number")
                if any(v == NULL for _, values in parsed[i:j] for v in values):
                    quote = "non_numeric"  # text that reads as the NULL marker unquoted
            out = io.BytesIO()
            frame.write_csv(out, include_header=False, null_value=NULL, quote_style=quote)
            i = j
            yield out.getvalue()


def _value(value):
    """A staging value the parser gave, for the certified rows' frame: a timestamp as ISO text with its
    offset (what psycopg sends for it), the others as they are."""
    return value.isoformat() if isinstance(value, dt.datetime) else value


def supported(source, ctx, header: list[str]) -> bool:
    if source.kind == "incidents":  # rows without a case number take a content hash: left to the parser
        return "crimedatetime" in header and "ccnumber" in header
    return source.kind == "shots" and ctx.layout.name in ("shotspotter-chicago", "shotspotter-dc")


def fast_windows(source, reader, header: list[str], ctx, max_field: int) -> Iterator[FastRows] | None:
    """The file's records the fast way, a window of lines at a time; None when the kind or layout has no
    fast way. Iterating raises NotFast at the first window the fast way cannot read (module docstring):
    what the windows before it gave must then be dropped, and the file read row by row."""
    if not ENABLED or not supported(source, ctx, header):
        return None
    return _ahead(_windows(source, reader, header, ctx, max_field))


_END = object()


def _ahead(items: Iterator[FastRows]) -> Iterator[FastRows]:
    """`items`, the next one computed in a thread while the caller writes this one: polars leaves the
    interpreter lock while it works, so the file's next window is read and parsed while PostgreSQL
    takes in the COPY of this one (a 10x incident year: 3.0-3.6 s of Python, ~2 s of COPY). One window
    ahead at most, so memory stays bounded; a caller that stops early waits for that one window, then
    `items` is closed (its progress bar with it)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="crimegun-window")
    coming = pool.submit(next, items, _END)
    try:
        while (item := coming.result()) is not _END:
            coming = pool.submit(next, items, _END)
            yield item
    finally:
        wait([coming])
        pool.shutdown()
        items.close()


def _windows(source, reader, header: list[str], ctx, max_field: int) -> Iterator[FastRows]:
    bar = tqdm(total=reader.path.stat().st_size, unit="B", unit_scale=True, desc=reader.path.name, leave=False,
               disable=None if reader.progress else True, mininterval=0.5)
    records = 0
    try:
        for first_line, text in _texts(reader):
            bar.update(len(text))
            lines = _lines(text, first_line, len(header), reader.delimiter, max_field)
            if lines.height == 0:
                continue
            window = FastRows(lines.height, [], 0, [])
            for start in range(0, lines.height, CHUNK_ROWS):
                if not _chunk(source, reader, header, ctx, lines.slice(start, CHUNK_ROWS), window):
                    raise NotFast
            records += window.read
            yield window
        if records == 0:
            raise NotFast  # a header and no rows: the row path says so
    finally:
        bar.close()


def _texts(reader) -> Iterator[tuple[int, str]]:
    """(number of the first line, text) of the file's windows: WINDOW_CHARS characters or so, cut after a
    line end, the header line left out."""
    try:
        with open(reader.path, encoding=reader.encoding, errors="strict", newline="") as f:
            header = f.readline()
            if not header.endswith("\n"):
                raise NotFast
            number, carry = 2, ""
            while True:
                block = f.read(WINDOW_CHARS)
                text = carry + block
                if not text:
                    return
                cut = text.rfind("\n") + 1 if block else len(text)
                if cut == 0:  # no line end yet: one very long line (the checks will refuse it)
                    if len(text) > 4 * WINDOW_CHARS:
                        raise NotFast
                    carry = text
                    continue
                text, carry = text[:cut], text[cut:]
                yield number, text
                number += text.count("\n") + (0 if text.endswith("\n") else 1)
    except (UnicodeError, LookupError):
        raise NotFast from None  # the row path says which line


def _chunk(source, reader, header: list[str], ctx, lines: pl.DataFrame, result: FastRows) -> bool:
    """Add these lines' certified rows and fallback rows to `result`; False when polars cannot read
    them (nothing is staged before every chunk is read)."""
    width = len(header)
    body = lines.select(pl.col("line").str.join("\n")).item() + "\n"
    try:
        fields = pl.read_csv(body.encode(), has_header=False, separator=reader.delimiter, quote_char='"',
                             infer_schema=False, empty_string_is_null=False,
                             new_columns=[f"f{i}" for i in range(width)], raise_if_empty=True)
        if fields.height != lines.height or fields.width != width:
            return False
        columns = {name: f"f{i}" for i, name in enumerate(header)}  # a repeated name: the last one, as dict(zip())
        raw = fields.fill_null("").select([pl.col(columns[n]).alias(n) for n in dict.fromkeys(header) if n])
        del fields
        values, ok = (vector_columns.incident_columns if source.kind == "incidents"
                       else vector_columns.shot_columns)(raw, ctx)
        if values is None:
            return False
        staged = pl.DataFrame({"line_number": lines["line_number"], **{n: values[n] for n, _ in source.staging}})
        widths = source.widths()
        # finish_values: formula-like text and text too long for its column go back to the parser.
        plain = [pl.col(n).is_null() | ~(pl.col(n).str.contains(_FORMULA) | (pl.col(n) == NULL)
                                         | (pl.col(n).str.len_chars() > widths.get(n, 1 << 30)))
                 for n, kind in source.staging if kind == "text"]
        ok = (ok & staged.select(pl.all_horizontal(plain).fill_null(False)).to_series()).fill_null(False)
        staged = staged.filter(ok)
    except pl.exceptions.PolarsError:  # e.g. a time zone polars does not know: the row path reads the file
        return False
    result.staged.append((staged, lines["line_number"][-1]))
    result.certified += staged.height
    delimiter = reader.delimiter
    result.fallback += [(number, next(csv.reader([line], delimiter=delimiter)), line)
                        for number, line in lines.filter(~ok).iter_rows()]
    return True


def _lines(text: str, first_line: int, width: int, d: str, max_field: int) -> pl.DataFrame:
    """The line_number and raw text of each record of a window of whole lines, its first line numbered
    `first_line`; raises NotFast when they are not all plain records (module docstring)."""
    if "\x00" in text:
        raise NotFast
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            raise NotFast
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    frame = pl.DataFrame({"line_number": pl.int_range(first_line, first_line + len(lines), eager=True,
                                                      dtype=pl.Int64),
                          "line": lines}, schema={"line_number": pl.Int64, "line": pl.String})
    del lines, text  # a Python string per line: the biggest thing held
    # etl/reader.py skips a line csv reads as one blank field (white space only, no delimiter); regex's
    # white space is Rust's, all of which Python's strip() removes too.
    blank_line = pl.col("line").str.contains(r"^\s*$") & ~pl.col("line").str.contains(d, literal=True)
    if frame.select(blank_line.any()).item():
        frame = frame.filter(~blank_line)
    if frame.height == 0:
        return frame
    # Every line well-formed with exactly the header's number of fields, in one match.
    field = f'(?:{_QUOTED}|[^"{_DELIMITER[d]}]*)'
    line = pl.col("line")
    check = frame.select(well_formed=line.str.contains(f"^{field}(?:{_DELIMITER[d]}{field}){{{width - 1}}}$").all(),
                         longest=line.str.len_chars().max()).row(0)
    if not check[0] or check[1] > max_field:
        raise NotFast
    return frame
