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
value (`_by_value`); only dates and coordinates are computed in polars, for the one or two plain
shapes real exports use (`_instants`, `_points`), everything else goes back to the parser.
tests/db/test_vector_load.py holds both ways to the same staged rows and rejects.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl
from tqdm import tqdm

from etl.parse import (
    EARLIEST,
    FORMULA_START,
    LOCAL_TZ,
    blank,
    latest_date,
    normalize_district,
    parse_int,
    upper,
)
from etl.sources import incidents, shots

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
# The two date-time shapes certified. _ISO is etl/parse.py's _PLAIN_DATETIME with ASCII digits (the
# shape parse_datetime reads in one match); _US is the month-first form with seconds, 12- or 24-hour,
# that parse_datetime reads through _components/_US without a UTC offset.
_ISO = r"^([0-9]{4})[-/]([0-9]{2})[-/]([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(Z|\+00(?::?00)?)?$"
_US = r"^([0-9]{2})/([0-9]{2})/([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?: ([AP]M))?$"
# A plain decimal coordinate: f"{float(s):.7f}" (point_wkt) is then `s` padded with zeros.
_DECIMAL = r"^-?(?:0|[1-9][0-9]{0,2})\.[0-9]{1,7}$"
_FORMULA = "^[" + "".join("\\" + c if c in "-+" else c for c in FORMULA_START) + "]"
_PLAIN_TEXT = r"^[!-~](?:[ -~]*[!-~])?$"  # printable ASCII, no space at either end
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
        values, ok = (_incidents if source.kind == "incidents" else _shots)(raw, ctx)
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


def _by_value(raw: pl.DataFrame, names: tuple[str, ...], fn, dtype=pl.String) -> tuple[pl.Series, pl.Series]:
    """`fn` (the parser's own functions) applied to each distinct combination of the columns `names`
    (a column the file lacks reads as ""), and whether it returned rather than raised — a raise
    (RowError, or a bug the parser reports) sends the row back to the parser."""
    keys = pl.DataFrame({n: raw[n] if n in raw.columns else pl.repeat("", raw.height, eager=True) for n in names})
    distinct = keys.unique()
    out, ok = [], []
    for args in distinct.iter_rows():
        try:
            out.append(fn(*args))
            ok.append(True)
        except Exception:
            out.append(None)
            ok.append(False)
    table = distinct.with_columns(pl.Series("_v", out, dtype=dtype), pl.Series("_ok", ok, dtype=pl.Boolean))
    joined = keys.join(table, on=list(names), how="left", maintain_order="left", nulls_equal=True)
    return joined["_v"], joined["_ok"]


def _upper(raw: pl.DataFrame, name: str) -> pl.Series:
    """etl/parse.py's `upper` of a column: polars' upper-casing for plain printable ASCII values (the
    same as str.upper there; none of them blank or a blank word), `upper` itself for the others."""
    value = raw[name] if name in raw.columns else _constant("", raw.height)
    upper_cased = value.str.to_uppercase()
    odd = ~(value.str.contains(_PLAIN_TEXT) & ~upper_cased.is_in(["NA", "N/A", "NULL", "NONE"]))
    if not odd.any():
        return upper_cased
    others = _by_value(pl.DataFrame({name: value.filter(odd)}), (name,), upper)[0]
    return upper_cased.scatter(odd.arg_true(), others)


def _instants(value: pl.Series, tz: dt.tzinfo) -> tuple[pl.Series, pl.Series] | None:
    """parse_datetime for the _ISO and _US shapes, as UTC text for a timestamptz column; ok only for a
    real date and time inside parse_datetime's window (_check_window: EARLIEST to latest_date()), read
    in `tz` unless an _ISO suffix says UTC. A local time a clock change skips or repeats goes back to
    the parser (its fold=0 rule is not mirrored), as does any local time before 1970 (time-zone
    databases may differ on history)."""
    f = pl.DataFrame({"v": value}).select(iso=pl.col("v").str.extract_groups(_ISO),
                                          us=pl.col("v").str.extract_groups(_US))
    iso, us = pl.col("iso").struct, pl.col("us").struct
    f = f.select(
        year=pl.coalesce(iso["1"], us["3"]).cast(pl.Int32),
        month=pl.coalesce(iso["2"], us["1"]).cast(pl.Int32),
        day=pl.coalesce(iso["3"], us["2"]).cast(pl.Int32),
        h=pl.coalesce(iso["4"], us["4"]).cast(pl.Int32),
        minute=pl.coalesce(iso["5"], us["5"]).cast(pl.Int32),
        second=pl.coalesce(iso["6"], us["6"]).cast(pl.Int32),
        ampm=us["7"], utc=iso["7"].is_not_null())
    h = pl.col("h")
    # _components: with AM/PM the hour is 1..12, else refused; 12 AM is 0, 1 PM is 13.
    f = f.with_columns(hour=pl.when(pl.col("ampm").is_null()).then(h)
                       .otherwise(h % 12 + pl.when(pl.col("ampm") == "PM").then(12).otherwise(0)))
    valid = (pl.col("year").is_not_null() & (pl.col("hour") <= 23) & (pl.col("minute") <= 59)
             & (pl.col("second") <= 59) & (pl.col("ampm").is_null() | h.is_between(1, 12)))
    naive = pl.format("{}-{}-{} {}:{}:{}", pl.col("year"), *[pl.col(c).cast(pl.String).str.zfill(2) for c in (
        "month", "day", "hour", "minute", "second")]).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    f = f.select("utc", "year", valid=valid, naive=naive)
    naive = pl.col("naive")
    in_window = naive.dt.date().is_between(EARLIEST, latest_date())
    if isinstance(tz, ZoneInfo):
        if tz.key is None:
            return None
        local = naive.dt.replace_time_zone(tz.key, ambiguous="null", non_existent="null").dt.convert_time_zone("UTC")
        in_window = in_window & (pl.col("utc") | (pl.col("year") >= 1970))
    else:
        offset = tz.utcoffset(None)
        if offset is None:
            return None
        local = (naive - pl.lit(offset)).dt.replace_time_zone("UTC")
    f = f.select("valid", in_window=in_window,
                 instant=pl.when(pl.col("utc")).then(naive.dt.replace_time_zone("UTC")).otherwise(local))
    f = f.select(text=pl.col("instant").dt.strftime("%Y-%m-%d %H:%M:%S+00"),
                 ok=pl.col("valid") & pl.col("in_window") & pl.col("instant").is_not_null())
    return f["text"], f["ok"].fill_null(False)


def _points(lon: pl.Series, lat: pl.Series, region) -> tuple[pl.Series, pl.Series]:
    """point_wkt(parse_point(lon, lat, ..., region)) for plain decimals that are not zero, lie inside
    the region and are degrees; anything else (blank, zero, swapped, outside, other spellings) goes
    back to the parser, which also tries the WKT or (lat, lon) column then."""
    f = pl.DataFrame({"lon": lon, "lat": lat}).with_columns(x=pl.col("lon").cast(pl.Float64, strict=False),
                                                            y=pl.col("lat").cast(pl.Float64, strict=False))
    x, y = pl.col("x"), pl.col("y")
    ok = (pl.col("lon").str.contains(_DECIMAL) & pl.col("lat").str.contains(_DECIMAL) & (x != 0) & (y != 0)
          & x.is_between(-180, 180) & y.is_between(-90, 90))
    if region is not None:
        ok = ok & x.is_between(region[0], region[2]) & y.is_between(region[1], region[3])

    def fixed(c: str) -> pl.Expr:
        whole, fraction = pl.col(c).str.extract(r"^(-?[0-9]+)\."), pl.col(c).str.extract(r"\.([0-9]+)$")
        return pl.concat_str(whole, pl.lit("."), fraction.str.pad_end(7, "0"))

    f = f.select(wkt=pl.concat_str(pl.lit("SRID=4326;POINT("), fixed("lon"), pl.lit(" "), fixed("lat"), pl.lit(")")),
                 ok=ok.fill_null(False))
    return f["wkt"], f["ok"]


def _constant(value, height: int, dtype=pl.String) -> pl.Series:
    return pl.repeat(value, height, eager=True, dtype=dtype)


def _present(value: str) -> str:
    """An alert id, blank() of it: rows without one take the parser's content-hash key."""
    text = blank(value)
    if not text:
        raise ValueError("no id")
    return text


def _incidents(raw: pl.DataFrame, ctx) -> tuple[dict[str, pl.Series] | None, pl.Series]:
    """Incidents.parse, line by line, for a file with a CrimeDateTime column."""
    layout, n = ctx.layout.name, raw.height
    tz = ctx.tz or (dt.UTC if layout == "open-baltimore-2022" else LOCAL_TZ)
    when = _instants(raw["crimedatetime"], tz)
    if when is None:
        return None, pl.Series([], dtype=pl.Boolean)
    code, ok_code = _by_value(raw, ("crimecode",), incidents.crime_code)
    cc = _upper(raw, "ccnumber")
    ok_cc = cc.is_not_null()
    total, ok_total = _by_value(raw, ("total_incidents",),
                                lambda v: (lambda t: 1 if t is None else t)(parse_int(v, "Total_Incidents", 0, 1000)),
                                pl.Int64)
    lon, lat = (raw[c] if c in raw.columns else _constant("", n) for c in ("longitude", "latitude"))
    geom, ok_point = _points(lon, lat, ctx.region)
    text = {name: _upper(raw, name) for name in ("neighborhood", "location", "gender", "race", "ethnicity")}
    values = {
        "agency": _constant(ctx.agency, n),
        "source_key": (cc + ":" + code).str.slice(0, 34),
        "cc_number": cc,
        "crime_datetime": when[0],
        "crime_code": code,
        "description": _by_value(raw, ("description", "crimecode"), incidents.description_of)[0],
        "inside_outside": _by_value(raw, ("inside_outside",), incidents.inside_outside_of)[0],
        "weapon": _by_value(raw, ("weapon",), incidents.weapon_of)[0],
        "is_firearm": _by_value(raw, ("crimecode", "weapon"),
                                lambda c, w: incidents.is_firearm(upper(c), incidents.weapon_of(w)), pl.Boolean)[0],
        "category": _by_value(raw, ("crimecode", "description"),
                              lambda c, d: incidents.category(upper(c), incidents.description_of(d, c)))[0],
        "post": _by_value(raw, ("post",), incidents.post_of)[0],
        "reported_district": _by_value(raw, ("new_district", "old_district", "district", "post"),
                                       incidents.reported_district)[0],
        "neighborhood": text["neighborhood"],
        "location": text["location"],
        "premise": _by_value(raw, ("premise", "premisetype"), lambda p, t: upper(p or t))[0],
        "victim_gender": text["gender"],
        "victim_age": _by_value(raw, ("age",), lambda v: parse_int(v, "Age", 0, 110, strict=False), pl.Int64)[0],
        "victim_race": text["race"],
        "victim_ethnicity": text["ethnicity"],
        "total_incidents": total,
        "source_layout": _constant(layout, n),
        "geom": geom,
    }
    return values, when[1] & ok_code & ok_cc & ok_total & ok_point


def _shots(raw: pl.DataFrame, ctx) -> tuple[dict[str, pl.Series] | None, pl.Series]:
    """Shots.parse for the Chicago and DC layouts (one date-time column each)."""
    layout, n = ctx.layout.name, raw.height
    chicago = layout == "shotspotter-chicago"
    when = _instants(raw["date" if chicago else "datetime"], ctx.tz or LOCAL_TZ)
    if when is None:
        return None, pl.Series([], dtype=pl.Boolean)
    if chicago:
        kind, ok_kind = _by_value(raw, ("incident_type_description",),
                                  lambda v: shots.normalize_type(v, "INCIDENT_TYPE_DESCRIPTION"))
        rounds, ok_rounds = _by_value(raw, ("rounds",), lambda v: parse_int(v, "ROUNDS", 0, 500), pl.Int64)
        address = _upper(raw, "block")
    else:
        kind, ok_kind = _by_value(raw, ("type",), shots.normalize_type)
        rounds, ok_rounds = _constant(None, n, pl.Int64), _constant(True, n, pl.Boolean)
        address = _constant(None, n)
    source_id, ok_id = _by_value(raw, ("unique_id" if chicago else "id",), _present)
    lon, lat = (raw[c] if c in raw.columns else _constant("", n) for c in ("longitude", "latitude"))
    geom, ok_point = _points(lon, lat, ctx.region)
    values = {
        "agency": _constant(ctx.agency, n),
        "source_key": ("id:" + source_id).str.slice(0, 64),
        "source_id": source_id,
        "alert_time": when[0],
        "alert_type": kind,
        "rounds": rounds,
        "address": address,
        "reported_district": _by_value(raw, ("district",), normalize_district)[0],
        "beat": _by_value(raw, ("beat",), blank)[0],
        "source_layout": _constant(layout, n),
        "geom": geom,
    }
    return values, when[1] & ok_kind & ok_rounds & ok_id & ok_point
