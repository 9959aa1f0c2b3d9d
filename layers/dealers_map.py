"""Source dealers and flows for the national view: where the city's recovered crime guns were first sold.

Both are aggregates of the recoveries that match the map's filters (recovery date, district, firearm
type, time-to-crime band, source state, out-of-state only): dealers sized by traced-gun count and
flagged in/out of the home state, and one flow per source state from the centroid of its selling
dealers to the city, so the map stays legible however many guns there are. Dealer business names and
cities come from the public ATF licensee list; licensee personal names are not sent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from layers import access, daily, settings
from layers.db import read_engine
from layers.map_filters import LAYERS, MapFilters, where_clause

MAX_DEALERS = 400


def _per_dealer(conn, filters: MapFilters) -> tuple[str, dict[str, Any]]:
    """SQL of (dealer_id, source_state, guns, under_1y) for the recoveries matching the filters: from the daily
    source counts when they are current (derived.daily_source holds dealer and time-to-crime per day and
    filter values), else from the recoveries and their traces."""
    if daily.usable(conn) and daily.has_sources(conn):
        where, params = daily.filter_sql("recoveries", filters, by_layer=False)
        return (f"""SELECT dealer_id, source_state, sum(n)::int AS guns,
                           coalesce(sum(n) FILTER (WHERE ttc_days < 365), 0)::int AS under_1y
                    FROM derived.daily_source WHERE {where} AND dealer_id IS NOT NULL GROUP BY 1, 2""", params)
    where, params = where_clause(LAYERS["recoveries"], filters)
    return (f"""SELECT t.dealer_id, t.source_state, count(*)::int AS guns,
                       count(*) FILTER (WHERE t.ttc_days < 365)::int AS under_1y
                FROM {LAYERS["recoveries"].from_sql}
                WHERE {where} AND t.dealer_id IS NOT NULL GROUP BY 1, 2""", params)


def source_dealers(filters: MapFilters, limit: int = MAX_DEALERS) -> dict[str, Any]:
    """Dealers that first sold the matching recovered guns: GeoJSON points with `guns`, `in_state`.
    Names go through the gate: an individual licensee is 'Individual licensee (city, state)' for roles
    without personal data, and only records roles get a link to the dealer's page."""
    viewer = access.require("dealers")
    with read_engine().connect() as conn:
        per_dealer, params = _per_dealer(conn, filters)
        params.update({"home": settings.get("CGA_HOME_STATE"), "limit": limit})
        sql = f"""
            WITH per_dealer AS (
                SELECT dealer_id, sum(guns)::int AS guns, sum(under_1y)::int AS under_1y
                FROM ({per_dealer}) x GROUP BY dealer_id)
            SELECT d.id, d.business_name, d.license_name, d.premise_city AS city,
                   d.premise_state AS state, d.premise_state = :home AS in_state, d.geocode_precision AS precision,
                   pd.guns, pd.under_1y, count(*) OVER () AS dealers, sum(pd.guns) OVER () AS guns_all,
                   ST_X(d.geom) AS lon, ST_Y(d.geom) AS lat
            FROM per_dealer pd JOIN dealer d ON d.id = pd.dealer_id
            WHERE d.geom IS NOT NULL
            ORDER BY pd.guns DESC, d.id LIMIT :limit"""
        rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    records = viewer.can("records")
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(r["lon"], 4), round(r["lat"], 4)]},
                 "properties": {"id": r["id"],
                                "name": access.dealer_name(r["business_name"], r["license_name"], viewer, r["city"],
                                                           r["state"]),
                                "city": r["city"], "state": r["state"],
                                "in_state": r["in_state"], "guns": r["guns"], "under_1y": r["under_1y"],
                                "precision": r["precision"], "url": f"/dealer/{r['id']}" if records else None}}
                for r in rows]
    return {"geojson": {"type": "FeatureCollection", "features": features},
            "shown": len(rows), "dealers": rows[0]["dealers"] if rows else 0,
            "guns": int(rows[0]["guns_all"]) if rows else 0, "max_guns": rows[0]["guns"] if rows else 0}


def state_flows(filters: MapFilters) -> dict[str, Any]:
    """One line per source state, from its dealers' centroid to the city, with the number of guns.
    For aggregate-only roles, states with a small number of guns are left out (`suppressed` counts them)."""
    viewer = access.require("map")
    import orjson

    with read_engine().connect() as conn:
        per_dealer, params = _per_dealer(conn, filters)
        params["home"] = settings.get("CGA_HOME_STATE")
        # A state's origin is the centroid of its dealers weighted by guns (as ST_Centroid of every gun's dealer).
        sql = f"""
            WITH city AS (
                SELECT ST_Centroid(ST_Collect(geom)) AS g FROM boundary
                WHERE kind = (SELECT CASE WHEN bool_or(kind = 'city') THEN 'city' ELSE 'district' END FROM boundary)),
            per_state AS (
                SELECT x.source_state AS state, sum(x.guns)::int AS guns,
                       ST_SetSRID(ST_MakePoint(sum(x.guns * ST_X(d.geom)) / sum(x.guns),
                                               sum(x.guns * ST_Y(d.geom)) / sum(x.guns)), 4326) AS origin
                FROM ({per_dealer}) x JOIN dealer d ON d.id = x.dealer_id
                WHERE x.source_state IS NOT NULL AND d.geom IS NOT NULL
                GROUP BY x.source_state)
            SELECT s.state, s.guns, s.state = :home AS in_state,
                   ST_AsGeoJSON(ST_MakeLine(s.origin, c.g), 4) AS geometry, ST_X(s.origin) AS lon, ST_Y(s.origin) AS lat
            FROM per_state s CROSS JOIN city c WHERE c.g IS NOT NULL
            ORDER BY s.guns DESC, s.state"""
        rows = conn.execute(text(sql), params).mappings().all()
    kept = [r for r in rows if access.suppress(r["guns"], viewer) is not None]
    suppressed, rows = len(rows) - len(kept), kept
    features = [{"type": "Feature", "geometry": orjson.loads(r["geometry"]),
                 "properties": {"state": r["state"], "guns": r["guns"], "in_state": r["in_state"]}} for r in rows]
    labels = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 4), round(lat, 4)]},
         "properties": {"name": name}} for name, lon, lat in place_labels(rows)]}
    return {"geojson": {"type": "FeatureCollection", "features": features},
            "labels": labels,
            "states": len(rows), "guns": sum(r["guns"] for r in rows), "max_guns": rows[0]["guns"] if rows else 0,
            "table": [{"state": r["state"], "guns": r["guns"]} for r in rows], "suppressed": suppressed}


MAX_FLOW_LABELS = 8
# A label's box in degrees at the national view (zoom ~4: ~11 px per degree of longitude, ~15 per degree
# of latitude at 40°N): 11 px bold text is ~7 px a character, 16 px a line.
LABEL_DEG_PER_CHAR, LABEL_HEIGHT_DEG = 0.65, 1.25


def place_labels(rows: list[dict[str, Any]], limit: int = MAX_FLOW_LABELS) -> list[tuple[str, float, float]]:
    """Labels for the largest flows only (`limit`), each at its origin or nudged up or down a line when it
    would overlap one already placed; a label that fits nowhere is left out (the ranked list beside the
    map names every state). Rows are (state, guns, lon, lat), most guns first."""
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for r in rows[:limit]:
        name = f"{r['state']} {r['guns']:,}"
        half_w = len(name) * LABEL_DEG_PER_CHAR / 2
        for dy in (0.0, LABEL_HEIGHT_DEG, -LABEL_HEIGHT_DEG, 2 * LABEL_HEIGHT_DEG, -2 * LABEL_HEIGHT_DEG):
            lon, lat = float(r["lon"]), float(r["lat"]) + dy
            box = (lon - half_w, lat, lon + half_w, lat + LABEL_HEIGHT_DEG)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                placed.append(box)
                out.append((name, lon, lat))
                break
    return out


def source_states() -> list[str]:
    """States that first sold at least one recovered traced gun, most guns first (the source-state filter's
    choices): from the daily counts when current (4 ms at 100x), else counted over recoveries (~300 ms)."""
    access.require("map")
    with read_engine().connect() as conn:
        if daily.usable(conn):
            return list(conn.execute(text(
                "SELECT source_state FROM derived.daily_count WHERE layer = 'recoveries' AND source_state IS NOT NULL "
                "GROUP BY 1 ORDER BY sum(n) DESC, 1")).scalars())
        return list(conn.execute(text(
            f"SELECT t.source_state FROM {LAYERS['recoveries'].from_sql} WHERE t.source_state IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC, 1")).scalars())


def dealer_card(dealer_id: int) -> dict[str, Any] | None:
    """One dealer for the map's details panel (public licensee-list fields only; an individual licensee's
    name and licence number only for personal-data roles)."""
    viewer = access.require("dealers")
    with read_engine().connect() as conn:
        row = conn.execute(text("""
            SELECT d.id, d.business_name, d.license_name, d.premise_city AS city,
                   d.premise_state AS state, d.ffl_key, d.geocode_precision AS precision,
                   (SELECT count(*) FROM trace t WHERE t.dealer_id = d.id)::int AS traced_guns,
                   (SELECT count(*) FROM trace t WHERE t.dealer_id = d.id AND t.ttc_days < 365)::int AS under_1y
            FROM dealer d WHERE d.id = :id"""), {"id": int(dealer_id)}).mappings().first()
    if row is None:
        return None
    card = dict(row)
    business, licensee = card.pop("business_name"), card.pop("license_name")
    card["name"] = access.dealer_name(business, licensee, viewer, card["city"], card["state"])
    if not viewer.personal_data and access.dealer_is_individual(business, licensee):
        card["ffl_key"] = access.RESTRICTED
    card["records"] = viewer.can("records")
    return card
