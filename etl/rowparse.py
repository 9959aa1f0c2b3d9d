"""Rows of a file turned into staging values, or into the reason each one is rejected.

The source's Python parser is the reference (etl/vector.py's column-wise path sends it the rows it
cannot read). Rows are checked first (an unbalanced quote, the wrong number of fields, a NUL byte, a field
too long), then parsed here or, for a big file on a machine with cores to spare, in forked worker processes.
Every row comes out: values for one that loads, its raw text and reason for one that does not.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Protocol

from etl.errors import RowError
from etl.parse import FORMULA_START, neutralise_formula
from etl.reader import CsvSource, RawRow
from etl.sources import LoadContext, Source

# One field longer than this is not a value but a broken file or an attack: the row is rejected.
MAX_FIELD = 64 * 1024
# What is kept of a rejected row's raw text (the reason says what was wrong with the rest).
MAX_RAW = 16 * 1024
_FORMULA_FIRST = frozenset(FORMULA_START)


class Tally(Protocol):
    """What parsing counts: the rows read and the formula-like values neutralised (a LoadResult)."""

    read: int
    neutralised: int


@dataclass
class _Counts:
    """A worker's Tally."""

    read: int = 0
    neutralised: int = 0


class _Record(dict):
    """A row's {column: value} that remembers the column a parser read last: what an unexpected
    exception is reported against."""

    last = "?"

    def get(self, key, default=None):
        self.last = key
        return super().get(key, default)

    def __getitem__(self, key):
        self.last = key
        return super().__getitem__(key)


def safe_raw(raw: str) -> str:
    """Raw text fit to store: no NUL (PostgreSQL text cannot hold it), and not megabytes."""
    raw = raw.replace("\x00", "\\x00")
    return raw if len(raw) <= MAX_RAW else raw[:MAX_RAW] + f"… [{len(raw) - MAX_RAW:,} more characters]"


def check_fields(row_fields: list[str], header_raw: list[str], header: list[str]) -> None:
    """Refuse the row, naming the column, for a field the database cannot or should not hold."""
    width = len(header)
    if len(row_fields) != width:
        if len(row_fields) < width:
            last = header_raw[len(row_fields) - 1].strip() if row_fields else header_raw[0].strip()
            raise RowError(f"expected {width} fields, found {len(row_fields)}: the row ends at column {last}"
                           f" (missing {', '.join(h.strip() for h in header_raw[len(row_fields):][:3])}"
                           f"{' …' if width - len(row_fields) > 3 else ''})")
        raise RowError(f"expected {width} fields, found {len(row_fields)}: extra values after the last column "
                       f"{header_raw[-1].strip()}")
    for name, value in zip(header_raw, row_fields, strict=True):
        if "\x00" in value:
            raise RowError(f"{name.strip()} contains a NUL byte (a binary or corrupted value)")
        if len(value) > MAX_FIELD:
            raise RowError(f"{name.strip()} is {len(value):,} characters long, over the {MAX_FIELD:,} a field "
                           "may hold")


def _failing_column(source: Source, header: list[str], fields: list[str], ctx: LoadContext) -> str:
    """The column a parser read last before an unexpected exception (found by parsing the row again)."""
    record = _Record(zip(header, fields, strict=False))
    try:
        source.parse(record, ctx)
    except Exception:  # the same failure, now with the column known
        pass
    return record.last


def finish_values(values: dict, widths: dict[str, int], text: list[str]) -> int:
    """Neutralise formula-like text and check lengths against the target columns; return how many
    values were neutralised. Raises RowError naming the column of a value too long to store."""
    neutralised = 0
    for name in text:
        value = values[name]
        if value.__class__ is not str or not value:
            continue
        if value[0] in _FORMULA_FIRST:
            safe = neutralise_formula(value)
            if safe is not None:
                values[name] = value = safe
                neutralised += 1
        limit = widths.get(name)
        if limit is not None and len(value) > limit:
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise RowError(f"{name} {shown!r} is {len(value)} characters long; the database holds at most {limit}")
    return neutralised


def _checked(reader: CsvSource, header: list[str], result: Tally) -> Iterator[tuple[RawRow, str | None]]:
    """The reader's records, counted, each with the reason it is refused before parsing (an unbalanced
    quote, the wrong number of fields, a NUL byte, a field too long) or None."""
    width = len(header)
    header_raw = reader.header_raw if len(reader.header_raw) == len(header) else header
    for row in reader.rows():
        result.read += 1
        if row.reason:
            yield row, row.reason
            continue
        try:
            if len(row.fields) != width or "\x00" in row.raw or len(row.raw) > MAX_FIELD:
                check_fields(row.fields, header_raw, header)
        except RowError as exc:
            yield row, str(exc)
            continue
        yield row, None


def parsed(source: Source, reader: CsvSource, header: list[str], ctx: LoadContext, result: Tally,
           records: Iterator[tuple[RawRow, str | None]] | None = None
           ) -> Iterator[tuple[int, tuple | None, str | None, str | None]]:
    """(line number, staging values, raw text, reason) of every record (the reader's, else `records`),
    parsed in this process; values for a row that loads, raw text and reason for one that is rejected."""
    names = [c for c, _ in source.staging]
    in_order = itemgetter(*names) if len(names) > 1 else lambda values: (values[names[0]],)
    widths = source.widths()
    text = [c for c, t in source.staging if t == "text"]
    for row, reason in _checked(reader, header, result) if records is None else records:
        if reason is None:
            values = _python_values(source, header, row.fields, ctx, widths, text, result)
            if values.__class__ is not str:
                yield row.line_number, in_order(values), None, None
                continue
            reason = values
        yield row.line_number, None, row.raw, reason


# Parsing a big file is spread over worker processes while this one reads the file and feeds COPY
# (parsing is most of the Python time of a load: tests/bench/bench_etl.py) — on machines with cores
# to spare beyond this process and PostgreSQL's: on two busy cores, shipping rows to workers and back
# measured slower (41k rows: 4.4-7.1 s against 3.3-5.6 s parsed here).
PARALLEL_MIN_BYTES = 8 << 20
_CORES = os.cpu_count() or 1
PARSE_WORKERS = min(_CORES - 2, 4) if _CORES >= 4 else 1
_BATCH = 2000
_WORKER: dict = {}


def _init_worker(source: Source, header: list[str], ctx: LoadContext) -> None:
    _WORKER.update(source=source, header=header, ctx=ctx, names=[c for c, _ in source.staging],
                   widths=source.widths(), text=[c for c, t in source.staging if t == "text"])


def _parse_batch(batch: list[tuple[int, list[str]]]) -> tuple[list[tuple[int, tuple | None, str | None]], int]:
    """In a worker: [(line number, values or None, reason or None)] and how many values were neutralised."""
    w = _WORKER
    tally = _Counts()
    out = []
    for line_number, fields in batch:
        values = _python_values(w["source"], w["header"], fields, w["ctx"], w["widths"], w["text"], tally)
        if isinstance(values, str):
            out.append((line_number, None, values))
        else:
            out.append((line_number, tuple(values[n] for n in w["names"]), None))
    return out, tally.neutralised


def parsed_in_parallel(source: Source, reader: CsvSource, header: list[str], ctx: LoadContext, result: Tally,
                       records: Iterator[tuple[RawRow, str | None]] | None = None
                       ) -> Iterator[tuple[int, tuple | None, str | None, str | None]]:
    """What `parsed` yields, the parsing done by PARSE_WORKERS forked processes in batches; a few
    batches in flight at a time, so memory stays bounded whatever the file's size. A worker that
    dies fails the load (BrokenProcessPool), it never hangs it."""
    pending: deque = deque()

    def collect(item) -> Iterator[tuple[int, tuple | None, str | None, str | None]]:
        future, raws = item
        rows, neutralised = future.result()
        result.neutralised += neutralised
        for line_number, values, reason in rows:
            yield line_number, values, (None if reason is None else raws[line_number]), reason

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(PARSE_WORKERS, mp_context=context, initializer=_init_worker,
                             initargs=(source, header, ctx)) as pool:
        batch: list[tuple[int, list[str]]] = []
        raws: dict[int, str] = {}
        for row, reason in _checked(reader, header, result) if records is None else records:
            if reason is not None:
                yield row.line_number, None, row.raw, reason
                continue
            batch.append((row.line_number, row.fields))
            raws[row.line_number] = row.raw
            if len(batch) >= _BATCH:
                pending.append((pool.submit(_parse_batch, batch), raws))
                batch, raws = [], {}
                while len(pending) > 2 * PARSE_WORKERS:
                    yield from collect(pending.popleft())
        if batch:
            pending.append((pool.submit(_parse_batch, batch), raws))
        while pending:
            yield from collect(pending.popleft())


def _python_values(source: Source, header: list[str], fields: list[str], ctx: LoadContext,
                   widths: dict[str, int], text: list[str], result: Tally) -> dict | str:
    """One row parsed by the source's Python parser (the reference): its staging values, or the
    reason it is rejected."""
    try:
        values = source.parse(dict(zip(header, fields, strict=True)), ctx)
        result.neutralised += finish_values(values, widths, text)
    except RowError as exc:
        return str(exc)
    except Exception as exc:  # a parser bug must cost one row, not the file
        return f"internal error parsing {_failing_column(source, header, fields, ctx)}: {type(exc).__name__}"
    return values


def parser_for(path: Path):
    """`parsed_in_parallel` for a file big enough to be worth the workers on a machine that has them,
    else `parsed`."""
    return parsed_in_parallel if path.stat().st_size >= PARALLEL_MIN_BYTES and PARSE_WORKERS > 1 else parsed
