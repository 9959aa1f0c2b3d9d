"""Public summary figures for press and policy staff: aggregates only, computed in SQL.

Every function takes a date range (local calendar days, both inclusive) and an optional list of police
districts, asks the gate for the `charts` capability, and returns plain rows (lists of dicts) with no
record ids, names, serial, trace or case numbers, addresses or coordinates. Counts from 1 up to
CGA_SMALL_COUNT - 1 come back as None for viewers without the `records` capability (`access.suppress`);
shares and changes computed from a suppressed count are None as well. Zero is never suppressed.

What each figure counts, by which date, and what is suppressed is written in `METHOD_NOTES`, which the
charts and every export carry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from layers import access, daily, settings
from layers.db import read_engine
from layers.map_filters import LAYERS, LOCAL_TZ, TTC_BAND_SQL, TTC_BANDS, MapFilters, where_clause

TOP_STATES = 10
TOP_MAKERS = 10

# How a privately made ("ghost") gun is recognised: the trace came back PRIVATELY_MADE (no retail history),
# or the maker is a kit or unserialised-frame maker, or the record says it was privately made.
GHOST_MAKERS = daily.GHOST_MAKERS
GHOST_SQL = ("(t.trace_status = 'PRIVATELY_MADE' OR upper(coalesce(f.manufacturer, '')) = ANY(:ghost_makers) "
             "OR upper(coalesce(f.manufacturer, '')) LIKE '%PRIVATELY MADE%')")

MONTH_SQL = {
    "recoveries": "to_char(p.recovery_date, 'YYYY-MM')",
    "shootings": f"to_char(p.crime_datetime AT TIME ZONE '{LOCAL_TZ}', 'YYYY-MM')",
    "alerts": f"to_char(p.alert_time AT TIME ZONE '{LOCAL_TZ}', 'YYYY-MM')",
}


def _suppression_text() -> str:
    t = access.small_count_threshold()
    return "no counts suppressed" if t <= 1 else (f"counts 1–{t - 1} suppressed" if t > 2 else "counts of 1 suppressed")


def suppression_rule() -> str:
    """The small-count rule in words, for notes, footnotes and CSV headers."""
    t = access.small_count_threshold()
    if t <= 1:
        return "No counts are suppressed."
    return (f"For the public record, any count from 1 to {t - 1} is suppressed: shown as a gap in charts and "
            f"as \"<{t}\" in CSV files; percentages built on a suppressed count are left blank.")


def suppressed_note() -> str:
    """The short note shown next to a chart: 'counts 1–4 suppressed'."""
    return _suppression_text()


METHOD_NOTES: dict[str, str] = {
    "recoveries_by_month": (
        "Firearms recovered by the agency and traced through ATF eTrace, counted once per recovery by the "
        "calendar month of the recovery date, in the recovery's police district."),
    "source_states": (
        "Recovered firearms by the state of the dealer that first sold them at retail (from completed traces), "
        "counted by recovery date. The out-of-state share is of recoveries with a known source state; guns "
        "never traced to a dealer (privately made, too old, pending) are shown as 'Unknown'. States beyond "
        "the top ten, and states too small to show alone, are grouped as 'Other states'."),
    "time_to_crime": (
        "Time-to-crime is the time from a gun's first retail sale to its recovery, by recovery date. Bands: "
        "under 1 year, 1–3 years, over 3 years; 'unknown' when there is no retail sale on record."),
    "firearm_types": (
        "Recovered firearms by type as reported on the trace request, counted by recovery date."),
    "top_makers": (
        "The ten manufacturers with the most recovered firearms, counted by recovery date; privately made "
        "guns appear under their kit maker (e.g. Polymer80) or as 'PRIVATELY MADE'."),
    "ghost_guns_by_month": (
        "Privately made firearms (\"ghost guns\") recovered, by month of recovery: traces answered "
        "'privately made' (no retail history), or made by a known kit/unserialised-frame maker."),
    "shootings_alerts_by_district": (
        "Shootings and homicides with a firearm (Part 1 crime incidents) by month of occurrence, and "
        "ShotSpotter gunshot alerts by month of the alert, in local time, by the police district the "
        "location falls in. Alerts exist only where sensors are installed."),
    "ytd_comparison": (
        "Year to date: 1 January of the year of the last data date (or of the end of the chosen range, if "
        "earlier) up to that date, against the same span a year earlier. Shootings and homicides are "
        "firearm incidents by date of occurrence; alerts by alert date; recoveries by recovery date. The "
        "district filter applies; the start of the chosen range does not."),
}

TITLES: dict[str, str] = {
    "recoveries_by_month": "Crime guns recovered, by month",
    "source_states": "Where recovered crime guns were first sold",
    "time_to_crime": "Time from first retail sale to recovery",
    "firearm_types": "Recovered firearms by type",
    "top_makers": "Top makers of recovered firearms",
    "ghost_guns_by_month": "Privately made (ghost) guns recovered, by month",
    "shootings_alerts_by_district": "Shootings and homicides, and ShotSpotter alerts, by district and month",
    "ytd_comparison": "Year to date against the same period last year",
}
CHART_KEYS: tuple[str, ...] = tuple(TITLES)


def _filters(start: dt.date, end: dt.date, districts: Sequence[str] | None) -> MapFilters:
    if end < start:
        start, end = end, start
    return MapFilters(start=start, end=end, districts=tuple(d for d in (districts or ()) if d))


def _months(start: dt.date, end: dt.date) -> list[str]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _pct(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return round(100.0 * part / whole, 1)


def _monthly(conn, key: str, f: MapFilters, extra_where: str = "", extra_params: dict | None = None,
             ghost: bool = False) -> dict[str, int]:
    """Counts by month 'YYYY-MM' (of privately made guns only when `ghost`, with GHOST_SQL as extra_where)."""
    if daily.usable(conn):
        rows = daily.grouped(conn, key, f, {"month": "to_char(day, 'YYYY-MM')"}, " AND ghost" if ghost else "")
        return {r["month"]: r["n"] for r in rows}
    where, params = where_clause(LAYERS[key], f)
    params.update(extra_params or {})
    sql = (f"SELECT {MONTH_SQL[key]} AS month, count(*)::int AS n FROM {LAYERS[key].from_sql} "
           f"WHERE {where}{extra_where} GROUP BY 1")
    return {r.month: r.n for r in conn.execute(text(sql), params)}


def districts() -> list[str]:
    """Names of the police districts loaded (for the district filter)."""
    access.require("charts")
    with read_engine().connect() as conn:
        return list(conn.execute(text("SELECT name FROM boundary WHERE kind = 'district' ORDER BY name")).scalars())


def data_as_of() -> dt.date | None:
    """The latest local date reached by any loaded record (incident, alert, recovery, NIBIN lead). The local
    date never goes back as time goes on, so it is the date of the latest instant (an index answers that)."""
    access.require("charts")
    with read_engine().connect() as conn:
        return conn.execute(text(f"""
            WITH RECURSIVE agencies AS (  -- each agency's latest incident from the (agency, time) index
                (SELECT agency FROM incident ORDER BY agency LIMIT 1)
                UNION ALL
                SELECT (SELECT i.agency FROM incident i WHERE i.agency > a.agency ORDER BY i.agency LIMIT 1)
                FROM agencies a WHERE a.agency IS NOT NULL)
            SELECT max(d) FROM (
                SELECT (max((SELECT max(i.crime_datetime) FROM incident i WHERE i.agency = a.agency))
                        AT TIME ZONE '{LOCAL_TZ}')::date AS d FROM agencies a WHERE a.agency IS NOT NULL
                UNION ALL SELECT (max(alert_time) AT TIME ZONE '{LOCAL_TZ}')::date FROM shot_alert
                UNION ALL SELECT max(recovery_date) FROM recovery
                UNION ALL SELECT max(lead_date) FROM nibin_lead) x""")).scalar()


def recoveries_by_month(start: dt.date, end: dt.date, districts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every month of the range: {month 'YYYY-MM', recoveries}."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    with read_engine().connect() as conn:
        counts = _monthly(conn, "recoveries", f)
    return [{"month": m, "recoveries": access.suppress(counts.get(m, 0), viewer)} for m in _months(f.start, f.end)]


def source_states(start: dt.date, end: dt.date, districts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Recoveries by source state, most first: {state, guns, home_state, share_pct} — the top ten states (for
    viewers without `records`, among those not suppressed), then 'Other states (n)' grouping the rest, then
    'Unknown' (no source state); share_pct is of recoveries with a known source state."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    where, params = where_clause(LAYERS["recoveries"], f)
    params["home"] = settings.get("CGA_HOME_STATE")
    with read_engine().connect() as conn:
        if daily.usable(conn):
            rows = [(r["state"], r["n"]) for r in daily.grouped(
                conn, "recoveries", f, {"state": "source_state"}, order="(source_state IS NULL), n DESC, 1")]
        else:
            rows = [tuple(r) for r in conn.execute(text(f"""
                SELECT t.source_state AS state, count(*)::int AS n FROM {LAYERS["recoveries"].from_sql}
                WHERE {where} GROUP BY 1 ORDER BY (t.source_state IS NULL), n DESC, 1"""), params).all()]
    home = params["home"]
    known = [(state, n) for state, n in rows if state is not None]
    unknown = sum(n for state, n in rows if state is None)
    total_known = sum(n for _, n in known)
    # States too small to show on their own are grouped rather than shown as a row of gaps.
    shown_alone = [(s, n) for s, n in known if access.suppress(n, viewer) is not None]
    top = shown_alone[:TOP_STATES]
    rest = [(s, n) for s, n in known if (s, n) not in top]
    out = []
    for state, n in top:
        shown = access.suppress(n, viewer)
        out.append({"state": state, "guns": shown, "home_state": state == home,
                    "share_pct": _pct(shown, total_known)})
    if rest:
        n = sum(n for _, n in rest)
        shown = access.suppress(n, viewer)
        out.append({"state": f"Other states ({len(rest)})", "guns": shown, "home_state": False,
                    "share_pct": _pct(shown, total_known)})
    if unknown:
        out.append({"state": "Unknown", "guns": access.suppress(unknown, viewer), "home_state": None,
                    "share_pct": None})
    return out


def out_of_state_share(start: dt.date, end: dt.date, districts: Sequence[str] | None = None) -> dict[str, Any]:
    """{home_state, known_source, out_of_state, share_pct}: recoveries first sold outside the home state, as a
    share of those with a known source state (None when either count is suppressed or nothing is known)."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    where, params = where_clause(LAYERS["recoveries"], f)
    params["home"] = settings.get("CGA_HOME_STATE")
    daily_where, daily_params = daily.filter_sql("recoveries", f)
    with read_engine().connect() as conn:
        if daily.usable(conn):
            r = conn.execute(text(f"""
                SELECT coalesce(sum(n) FILTER (WHERE source_state IS NOT NULL), 0)::int AS known,
                       coalesce(sum(n) FILTER (WHERE source_state <> :home), 0)::int AS out_of_state
                FROM derived.daily_count WHERE {daily_where}"""), {**daily_params, "home": params["home"]}).one()
        else:
            r = conn.execute(text(f"""
                SELECT count(t.source_state)::int AS known,
                       count(*) FILTER (WHERE t.source_state <> :home)::int AS out_of_state
                FROM {LAYERS["recoveries"].from_sql} WHERE {where}"""), params).one()
    known, out = access.suppress(r.known, viewer), access.suppress(r.out_of_state, viewer)
    in_state = access.suppress(r.known - r.out_of_state, viewer)
    share = _pct(out, known) if in_state is not None else None
    return {"home_state": params["home"], "known_source": known, "out_of_state": out, "share_pct": share}


def time_to_crime(start: dt.date, end: dt.date, districts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The four time-to-crime bands in order: {band, guns, share_pct} (share of all recoveries in range)."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    where, params = where_clause(LAYERS["recoveries"], f)
    with read_engine().connect() as conn:
        if daily.usable(conn):
            counts = {r["band"]: r["n"] for r in daily.grouped(conn, "recoveries", f, {"band": "ttc_band"})}
        else:
            counts = {r.band: r.n for r in conn.execute(text(f"""
                SELECT {TTC_BAND_SQL} AS band, count(*)::int AS n FROM {LAYERS["recoveries"].from_sql}
                WHERE {where} GROUP BY 1"""), params)}
    total = sum(counts.values())
    out = []
    for band in TTC_BANDS:
        shown = access.suppress(counts.get(band, 0), viewer)
        out.append({"band": band, "guns": shown, "share_pct": _pct(shown, total)})
    return out


def firearm_types(start: dt.date, end: dt.date, districts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Recoveries by firearm type, most first: {firearm_type, guns}."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    where, params = where_clause(LAYERS["recoveries"], f)
    with read_engine().connect() as conn:
        if daily.usable(conn):
            rows = [(r["firearm_type"], r["n"]) for r in daily.grouped(
                conn, "recoveries", f, {"firearm_type": "coalesce(kind, 'UNKNOWN')"}, order="n DESC, 1")]
        else:
            rows = [tuple(r) for r in conn.execute(text(f"""
                SELECT coalesce(f.firearm_type, 'UNKNOWN') AS firearm_type, count(*)::int AS n
                FROM {LAYERS["recoveries"].from_sql} WHERE {where} GROUP BY 1 ORDER BY n DESC, 1"""), params).all()]
    return [{"firearm_type": kind, "guns": access.suppress(n, viewer)} for kind, n in rows]


def top_makers(start: dt.date, end: dt.date, districts: Sequence[str] | None = None,
               limit: int = TOP_MAKERS) -> list[dict[str, Any]]:
    """The makers with the most recoveries, most first: {manufacturer, guns}."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    where, params = where_clause(LAYERS["recoveries"], f)
    params["limit"] = limit
    with read_engine().connect() as conn:
        if daily.usable(conn) and daily.has_makers(conn):
            rows = [(r["manufacturer"], r["n"]) for r in daily.ranked_makers(conn, f, limit)]
        else:
            rows = [tuple(r) for r in conn.execute(text(f"""
                SELECT {daily.MAKER_SQL} AS manufacturer, count(*)::int AS n
                FROM {LAYERS["recoveries"].from_sql} WHERE {where} GROUP BY 1 ORDER BY n DESC, 1 LIMIT :limit"""),
                params).all()]
    return [{"manufacturer": maker, "guns": access.suppress(n, viewer)} for maker, n in rows]


def ghost_guns_by_month(start: dt.date, end: dt.date, districts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every month of the range: {month, ghost_guns}."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    with read_engine().connect() as conn:
        counts = _monthly(conn, "recoveries", f, f" AND {GHOST_SQL}", {"ghost_makers": list(GHOST_MAKERS)}, ghost=True)
    return [{"month": m, "ghost_guns": access.suppress(counts.get(m, 0), viewer)} for m in _months(f.start, f.end)]


def shootings_alerts_by_district(start: dt.date, end: dt.date,
                                 districts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every district (the chosen ones, or all loaded) × every month of the range:
    {district, month, shootings_homicides, alerts}."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    with read_engine().connect() as conn:
        names = list(f.districts) or list(conn.execute(text(
            "SELECT name FROM boundary WHERE kind = 'district' ORDER BY name")).scalars())
        use_daily = daily.usable(conn)
        for key, column in (("shootings", "shootings_homicides"), ("alerts", "alerts")):
            if use_daily:
                for r in daily.grouped(conn, key, f, {"district": "coalesce(district, 'UNKNOWN')",
                                                      "month": "to_char(day, 'YYYY-MM')"}):
                    counts.setdefault((r["district"], r["month"]), {})[column] = r["n"]
                continue
            where, params = where_clause(LAYERS[key], f)
            for r in conn.execute(text(f"""
                    SELECT coalesce(p.district, 'UNKNOWN') AS district, {MONTH_SQL[key]} AS month, count(*)::int AS n
                    FROM {LAYERS[key].from_sql} WHERE {where} GROUP BY 1, 2"""), params):
                counts.setdefault((r.district, r.month), {})[column] = r.n
    if any(d == "UNKNOWN" for d, _ in counts) and "UNKNOWN" not in names:
        names.append("UNKNOWN")
    return [{"district": d, "month": m,
             "shootings_homicides": access.suppress(counts.get((d, m), {}).get("shootings_homicides", 0), viewer),
             "alerts": access.suppress(counts.get((d, m), {}).get("alerts", 0), viewer)}
            for d in names for m in _months(f.start, f.end)]


def ytd_periods(end: dt.date, as_of: dt.date | None) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """(this year's span, the same span a year earlier): 1 January to the earlier of `end` and `as_of`."""
    anchor = min(end, as_of) if as_of else end
    this = (dt.date(anchor.year, 1, 1), anchor)
    before = MapFilters(start=this[0], end=this[1]).shifted_years(-1)
    return this, (before.start, before.end)


def ytd_comparison(start: dt.date, end: dt.date, districts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Shootings, homicides (firearm), alerts and recoveries this year to date against the same span a year
    earlier: {measure, this_period, this_year, last_year, last_period, change_pct}."""
    viewer = access.require("charts")
    f = _filters(start, end, districts)
    this, before = ytd_periods(f.end, data_as_of())
    # (label, layer, category): shootings and homicides are the shootings layer split by its category,
    # which the daily counts hold as `kind` and the incidents as `category`.
    measures = (("Shootings", "shootings", "shooting"), ("Homicides", "shootings", "homicide"),
                ("ShotSpotter alerts", "alerts", None), ("Gun recoveries", "recoveries", None))
    out = []
    with read_engine().connect() as conn:
        use_daily = daily.usable(conn)
        for label, key, category in measures:
            by_category = {"ytd_category": category} if category else {}
            n = {}
            for name, (a, b) in (("now", this), ("before", before)):
                period = MapFilters(start=a, end=b, districts=f.districts)
                if use_daily:
                    extra = " AND kind = :ytd_category" if category else ""
                    n[name] = daily.grouped(conn, key, period, {}, extra, by_category)[0]["n"] or 0
                    continue
                where, params = where_clause(LAYERS[key], period)
                extra = " AND p.category = :ytd_category" if category else ""
                n[name] = conn.execute(text(f"SELECT count(*)::int FROM {LAYERS[key].from_sql} WHERE {where}{extra}"),
                                       {**params, **by_category}).scalar()
            now, was = access.suppress(n["now"], viewer), access.suppress(n["before"], viewer)
            change = None if now is None or was is None or not was else round(100.0 * (now - was) / was, 1)
            out.append({"measure": label, "this_period": f"{this[0]:%Y-%m-%d} to {this[1]:%Y-%m-%d}",
                        "this_year": now, "last_period": f"{before[0]:%Y-%m-%d} to {before[1]:%Y-%m-%d}",
                        "last_year": was, "change_pct": change})
    return out


# The data function of every chart, in page order.
FUNCTIONS = {
    "recoveries_by_month": recoveries_by_month,
    "source_states": source_states,
    "time_to_crime": time_to_crime,
    "firearm_types": firearm_types,
    "top_makers": top_makers,
    "ghost_guns_by_month": ghost_guns_by_month,
    "shootings_alerts_by_district": shootings_alerts_by_district,
    "ytd_comparison": ytd_comparison,
}
# Columns holding counts (suppressed counts are None there; CSV writes them as "<threshold").
COUNT_COLUMNS = {
    "recoveries_by_month": ("recoveries",), "source_states": ("guns",), "time_to_crime": ("guns",),
    "firearm_types": ("guns",), "top_makers": ("guns",), "ghost_guns_by_month": ("ghost_guns",),
    "shootings_alerts_by_district": ("shootings_homicides", "alerts"), "ytd_comparison": ("this_year", "last_year"),
}
