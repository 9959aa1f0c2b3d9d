"""What the command map asks for: the point layers it can show and the filters that apply to them.

Each point layer is one SQL source with a time column, a district column and a geometry; `MapFilters`
turns the user's choices into a WHERE clause with bound parameters (never string-built values).
No Dash here: the dashboard builds a `MapFilters` from its controls and hands it to the layer queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

LOCAL_TZ = "America/New_York"
TTC_BANDS = ("under 1 year", "1–3 years", "over 3 years", "unknown")
ALERT_TYPES = ("SINGLE_GUNSHOT", "MULTIPLE_GUNSHOTS", "PROBABLE_GUNFIRE")
FIREARM_TYPES = ("PISTOL", "REVOLVER", "RIFLE", "SHOTGUN", "DERRINGER", "MACHINE GUN", "OTHER")
SHOOTING_CATEGORIES = ("shooting", "homicide")

TTC_BAND_SQL = ("CASE WHEN t.ttc_days IS NULL THEN 'unknown' WHEN t.ttc_days < 365 THEN 'under 1 year' "
                "WHEN t.ttc_days < 1095 THEN '1–3 years' ELSE 'over 3 years' END")


@dataclass(frozen=True)
class PointLayer:
    """One point layer: where its rows come from and which of their columns reach the browser."""

    key: str
    label: str
    from_sql: str          # FROM ... (with joins); the point table is aliased p
    time_sql: str          # a timestamptz or date expression
    time_is_date: bool
    base_where: str        # always applied
    map_sql: str           # the few properties a marker needs (style, tooltip), kept small per point
    props_sql: str         # non-personal properties for details and lists, comma-separated "expr AS name"
    personal_props_sql: str = ""   # selected only for viewers allowed personal data, then redacted
    link: str = ""          # URL path prefix of the detail page, with the id column after it
    link_id: str = "id"
    # FROM for the markers (map_sql) and the choice filters alone, when fewer tables hold them than the details
    marker_from_sql: str = ""

    @property
    def markers_from(self) -> str:
        return self.marker_from_sql or self.from_sql


LAYERS: dict[str, PointLayer] = {
    "alerts": PointLayer(
        key="alerts", label="ShotSpotter alerts",
        from_sql="shot_alert p", time_sql="p.alert_time", time_is_date=False, base_where="TRUE",
        map_sql=("p.id, to_char(p.alert_time AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS time, "
                 "p.alert_type AS kind, p.rounds"),
        props_sql=("p.id, to_char(p.alert_time AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS time, "
                   "p.alert_type, p.rounds, p.district, p.incident_id"),
        personal_props_sql="p.address AS address",
        link="/incident/", link_id="incident_id"),
    "shootings": PointLayer(
        key="shootings", label="Shootings and homicides",
        from_sql="incident p", time_sql="p.crime_datetime", time_is_date=False,
        base_where="p.is_firearm AND p.category IN ('shooting', 'homicide')",
        map_sql=("p.id, to_char(p.crime_datetime AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS time, "
                 "p.category AS kind"),
        # The block-level location ("1000 N MOUNT ST") is public Open Baltimore data.
        props_sql=("p.id, to_char(p.crime_datetime AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS time, "
                   "p.category, p.crime_code, p.description, p.location, p.district"),
        link="/incident/"),
    "recoveries": PointLayer(
        key="recoveries", label="Gun recoveries",
        from_sql="recovery p JOIN trace t ON t.id = p.trace_id JOIN firearm f ON f.id = p.firearm_id",
        marker_from_sql="recovery p",
        time_sql="p.recovery_date", time_is_date=True, base_where="TRUE",
        map_sql="p.id, p.recovery_date::text AS time, p.firearm_type AS kind, p.ttc_band, p.source_in_state",
        props_sql=("p.id, p.firearm_id, p.incident_id, p.recovery_date::text AS time, p.district, f.firearm_type, "
                   f"f.caliber, f.manufacturer, {TTC_BAND_SQL} AS ttc_band, t.source_state, t.source_in_state, "
                   "t.trace_status"),
        personal_props_sql="p.street AS street, f.serial_number AS serial_number, t.trace_number AS trace_number",
        link="/firearm/", link_id="firearm_id"),
}


@dataclass(frozen=True)
class MapFilters:
    """The user's choices. Dates are local calendar days, both inclusive."""

    start: dt.date
    end: dt.date
    districts: tuple[str, ...] = ()
    alert_types: tuple[str, ...] = ()
    firearm_types: tuple[str, ...] = ()
    ttc_bands: tuple[str, ...] = ()
    source_states: tuple[str, ...] = ()
    out_of_state_only: bool = False

    def shifted_years(self, years: int = -1) -> MapFilters:
        """The same filters over the same calendar period `years` earlier (29 Feb becomes 28 Feb)."""
        return replace(self, start=_shift_year(self.start, years), end=_shift_year(self.end, years))


def _shift_year(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class ChoiceFilter:
    """One of the filters beside the dates: the `MapFilters` field that holds it, the layers it narrows and
    the column it tests on the layer's points and in the daily tables (layers/daily.filter_sql). A filter
    added here narrows the map's scans and the daily counts alike; the daily tables need the column too."""

    field: str                 # the MapFilters field, and the name of its bound parameter
    label: str                 # how the legend names it ("filtered by ...")
    layers: tuple[str, ...]    # the layers it narrows; () for every layer
    point_sql: str             # the column on a layer's points (aliases as in PointLayer.from_sql)
    daily_sql: str             # the column of the daily tables
    when_set: str = ""         # a yes/no filter: the test on the column when it is on (else: column = ANY(values))


CHOICE_FILTERS: tuple[ChoiceFilter, ...] = (
    ChoiceFilter("districts", "district", (), "p.district", "district"),
    ChoiceFilter("alert_types", "alert type", ("alerts",), "p.alert_type", "kind"),
    # The recovery filters test the copies on the recovery (migration 0011), so a map view needs no join.
    ChoiceFilter("firearm_types", "firearm type", ("recoveries",), "p.firearm_type", "kind"),
    ChoiceFilter("ttc_bands", "time-to-crime", ("recoveries",), "p.ttc_band", "ttc_band"),
    ChoiceFilter("source_states", "source state", ("recoveries",), "p.source_state", "source_state"),
    ChoiceFilter("out_of_state_only", "out-of-state only", ("recoveries",), "p.source_in_state", "source_in_state",
                 when_set="IS FALSE"),
)


def narrowing(layer_key: str, f: MapFilters) -> list[ChoiceFilter]:
    """The choice filters set in `f` that apply to this layer, in CHOICE_FILTERS order."""
    return [c for c in CHOICE_FILTERS if getattr(f, c.field) and (not c.layers or layer_key in c.layers)]


def choice_conditions(layer_key: str, f: MapFilters, daily: bool = False,
                      prefix: str = "") -> tuple[list[str], dict[str, Any]]:
    """The conditions and bound parameters of the choice filters that narrow this layer: on the columns of its
    points, or with `daily` on those of the daily tables. `prefix` as in `where_clause`."""
    conds: list[str] = []
    params: dict[str, Any] = {}
    for c in narrowing(layer_key, f):
        column = c.daily_sql if daily else c.point_sql
        if c.when_set:
            conds.append(f"{column} {c.when_set}")
            continue
        name = prefix + c.field
        conds.append(f"{column} = ANY(:{name})")
        params[name] = list(getattr(f, c.field))
    return conds, params


def where_clause(layer: PointLayer, f: MapFilters, prefix: str = "") -> tuple[str, dict[str, Any]]:
    """The WHERE conditions (joined with AND) and bound parameters of one layer under the filters.

    `prefix` keeps parameter names apart when two clauses share one statement."""
    k = prefix
    params: dict[str, Any] = {f"{k}start": f.start, f"{k}end": f.end + dt.timedelta(days=1)}
    if layer.time_is_date:
        conds = [f"{layer.time_sql} >= :{k}start", f"{layer.time_sql} < :{k}end"]
    else:
        conds = [f"{layer.time_sql} >= (CAST(:{k}start AS timestamp) AT TIME ZONE '{LOCAL_TZ}')",
                 f"{layer.time_sql} < (CAST(:{k}end AS timestamp) AT TIME ZONE '{LOCAL_TZ}')"]
    conds.append(layer.base_where)
    choices, choice_params = choice_conditions(layer.key, f, prefix=prefix)
    return " AND ".join(conds + choices), {**params, **choice_params}


def applies(layer_key: str, f: MapFilters) -> list[str]:
    """Names of the filters that narrow this layer (for the legend: 'filtered by ...')."""
    return [c.label for c in narrowing(layer_key, f)]
