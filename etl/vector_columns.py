"""The columns of etl/vector.py's fast path: each staging value of a chunk of incident or ShotSpotter lines
computed column by column with polars, and whether the row's values are certified (else the row goes back
to the per-row parser, etl/sources/incidents.py and shots.py, which stays the reference).

What a few distinct values decide (codes, districts, spellings, counts, ages) is computed by calling the
parser's own functions on each distinct value (`by_value`); only dates and coordinates are computed in
polars, for the one or two plain shapes real exports use (`instants`, `points`).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl

from etl.parse import EARLIEST, LOCAL_TZ, blank, latest_date, normalize_district, parse_int, upper
from etl.sources import incidents, shots

# The two date-time shapes certified. _ISO is etl/parse.py's _PLAIN_DATETIME with ASCII digits (the
# shape parse_datetime reads in one match); _US is the month-first form with seconds, 12- or 24-hour,
# that parse_datetime reads through _components/_US without a UTC offset.
_ISO = r"^([0-9]{4})[-/]([0-9]{2})[-/]([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(Z|\+00(?::?00)?)?$"
_US = r"^([0-9]{2})/([0-9]{2})/([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?: ([AP]M))?$"
# A plain decimal coordinate: f"{float(s):.7f}" (point_wkt) is then `s` padded with zeros.
_DECIMAL = r"^-?(?:0|[1-9][0-9]{0,2})\.[0-9]{1,7}$"
_PLAIN_TEXT = r"^[!-~](?:[ -~]*[!-~])?$"  # printable ASCII, no space at either end


def by_value(raw: pl.DataFrame, names: tuple[str, ...], fn, dtype=pl.String) -> tuple[pl.Series, pl.Series]:
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


def upper_column(raw: pl.DataFrame, name: str) -> pl.Series:
    """etl/parse.py's `upper` of a column: polars' upper-casing for plain printable ASCII values (the
    same as str.upper there; none of them blank or a blank word), `upper` itself for the others."""
    value = raw[name] if name in raw.columns else constant("", raw.height)
    upper_cased = value.str.to_uppercase()
    odd = ~(value.str.contains(_PLAIN_TEXT) & ~upper_cased.is_in(["NA", "N/A", "NULL", "NONE"]))
    if not odd.any():
        return upper_cased
    others = by_value(pl.DataFrame({name: value.filter(odd)}), (name,), upper)[0]
    return upper_cased.scatter(odd.arg_true(), others)


def instants(value: pl.Series, tz: dt.tzinfo) -> tuple[pl.Series, pl.Series] | None:
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


def points(lon: pl.Series, lat: pl.Series, region) -> tuple[pl.Series, pl.Series]:
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


def constant(value, height: int, dtype=pl.String) -> pl.Series:
    return pl.repeat(value, height, eager=True, dtype=dtype)


def present(value: str) -> str:
    """An alert id, blank() of it: rows without one take the parser's content-hash key."""
    text = blank(value)
    if not text:
        raise ValueError("no id")
    return text


def incident_columns(raw: pl.DataFrame, ctx) -> tuple[dict[str, pl.Series] | None, pl.Series]:
    """Incidents.parse, line by line, for a file with a CrimeDateTime column."""
    layout, n = ctx.layout.name, raw.height
    tz = ctx.tz or (dt.UTC if layout == "open-baltimore-2022" else LOCAL_TZ)
    when = instants(raw["crimedatetime"], tz)
    if when is None:
        return None, pl.Series([], dtype=pl.Boolean)
    code, ok_code = by_value(raw, ("crimecode",), incidents.crime_code)
    cc = upper_column(raw, "ccnumber")
    ok_cc = cc.is_not_null()
    total, ok_total = by_value(raw, ("total_incidents",),
                                lambda v: (lambda t: 1 if t is None else t)(parse_int(v, "Total_Incidents", 0, 1000)),
                                pl.Int64)
    lon, lat = (raw[c] if c in raw.columns else constant("", n) for c in ("longitude", "latitude"))
    geom, ok_point = points(lon, lat, ctx.region)
    text = {name: upper_column(raw, name) for name in ("neighborhood", "location", "gender", "race", "ethnicity")}
    values = {
        "agency": constant(ctx.agency, n),
        "source_key": (cc + ":" + code).str.slice(0, 34),
        "cc_number": cc,
        "crime_datetime": when[0],
        "crime_code": code,
        "description": by_value(raw, ("description", "crimecode"), incidents.description_of)[0],
        "inside_outside": by_value(raw, ("inside_outside",), incidents.inside_outside_of)[0],
        "weapon": by_value(raw, ("weapon",), incidents.weapon_of)[0],
        "is_firearm": by_value(raw, ("crimecode", "weapon"),
                                lambda c, w: incidents.is_firearm(upper(c), incidents.weapon_of(w)), pl.Boolean)[0],
        "category": by_value(raw, ("crimecode", "description"),
                              lambda c, d: incidents.category(upper(c), incidents.description_of(d, c)))[0],
        "post": by_value(raw, ("post",), incidents.post_of)[0],
        "reported_district": by_value(raw, ("new_district", "old_district", "district", "post"),
                                       incidents.reported_district)[0],
        "neighborhood": text["neighborhood"],
        "location": text["location"],
        "premise": by_value(raw, ("premise", "premisetype"), lambda p, t: upper(p or t))[0],
        "victim_gender": text["gender"],
        "victim_age": by_value(raw, ("age",), lambda v: parse_int(v, "Age", 0, 110, strict=False), pl.Int64)[0],
        "victim_race": text["race"],
        "victim_ethnicity": text["ethnicity"],
        "total_incidents": total,
        "source_layout": constant(layout, n),
        "geom": geom,
    }
    return values, when[1] & ok_code & ok_cc & ok_total & ok_point


def shot_columns(raw: pl.DataFrame, ctx) -> tuple[dict[str, pl.Series] | None, pl.Series]:
    """Shots.parse for the Chicago and DC layouts (one date-time column each)."""
    layout, n = ctx.layout.name, raw.height
    chicago = layout == "shotspotter-chicago"
    when = instants(raw["date" if chicago else "datetime"], ctx.tz or LOCAL_TZ)
    if when is None:
        return None, pl.Series([], dtype=pl.Boolean)
    if chicago:
        kind, ok_kind = by_value(raw, ("incident_type_description",),
                                  lambda v: shots.normalize_type(v, "INCIDENT_TYPE_DESCRIPTION"))
        rounds, ok_rounds = by_value(raw, ("rounds",), lambda v: parse_int(v, "ROUNDS", 0, 500), pl.Int64)
        address = upper_column(raw, "block")
    else:
        kind, ok_kind = by_value(raw, ("type",), shots.normalize_type)
        rounds, ok_rounds = constant(None, n, pl.Int64), constant(True, n, pl.Boolean)
        address = constant(None, n)
    source_id, ok_id = by_value(raw, ("unique_id" if chicago else "id",), present)
    lon, lat = (raw[c] if c in raw.columns else constant("", n) for c in ("longitude", "latitude"))
    geom, ok_point = points(lon, lat, ctx.region)
    values = {
        "agency": constant(ctx.agency, n),
        "source_key": ("id:" + source_id).str.slice(0, 64),
        "source_id": source_id,
        "alert_time": when[0],
        "alert_type": kind,
        "rounds": rounds,
        "address": address,
        "reported_district": by_value(raw, ("district",), normalize_district)[0],
        "beat": by_value(raw, ("beat",), blank)[0],
        "source_layout": constant(layout, n),
        "geom": geom,
    }
    return values, when[1] & ok_kind & ok_rounds & ok_id & ok_point
