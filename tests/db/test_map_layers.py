"""Map data products on a real PostGIS holding a small synthetic Baltimore (loaded through the ETL).

Expected numbers are computed with independent SQL on the same database."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from layers import access, dealers_map, density, district_panel, viewport
from layers.map_filters import MapFilters
from tests.conftest import query_runner

pytestmark = pytest.mark.db

CITY = (-76.72, 39.19, -76.52, 39.38)
YEAR = MapFilters(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
PRESS = access.Viewer("t", "press")
COMMANDER = access.Viewer("t", "commander")
DETECTIVE = access.Viewer("t", "detective")
PERSONAL = {"street", "serial_number", "trace_number", "address", "cc_number", "last_name", "first_name"}


@pytest.fixture
def ssql(synthetic_db):
    return query_runner(synthetic_db)


def test_points_in_view_match_sql_and_carry_nothing_personal(ssql):
    box = (-76.66, 39.28, -76.62, 39.31)
    expected = ssql("""SELECT count(*) FROM recovery WHERE recovery_date BETWEEN '2025-01-01' AND '2025-12-31'
                       AND geom && ST_MakeEnvelope(-76.66, 39.28, -76.62, 39.31, 4326)""")[0][0]
    assert 0 < expected < 5000
    r = viewport.layer_in_view("recoveries", YEAR, box, 15, viewer=DETECTIVE)
    assert r["mode"] == "points" and not r["truncated"] and r["shown"] == r["total"] == expected
    feats = r["geojson"]["features"]
    assert sum(f["properties"]["stack"] for f in feats) == expected
    for f in feats:
        assert not PERSONAL & set(f["properties"]), "marker payloads never carry personal fields"
        lon, lat = f["geometry"]["coordinates"]
        assert box[0] - 1e-4 <= lon <= box[2] + 1e-4 and box[1] - 1e-4 <= lat <= box[3] + 1e-4
    assert len(json.dumps(r["geojson"])) / max(1, len(feats)) < 250, "small features"


def test_a_capped_view_without_cells_counts_up_to_twenty_caps(ssql):
    """Filters the pre-aggregated cells do not hold (time-to-crime bands): the points are counted, exactly
    below 20 x the cap, and 'more than' beyond."""
    two_years = MapFilters(dt.date(2024, 1, 1), dt.date(2025, 12, 31), ttc_bands=("unknown", "under 1 year"))
    exact = viewport.count_in_view("recoveries", two_years, CITY)
    assert exact > 60
    r = viewport.layer_in_view("recoveries", two_years, CITY, 16, cap=exact // 3, viewer=COMMANDER)
    assert r["truncated"] and r["total"] == exact and not r["total_approx"]
    r = viewport.layer_in_view("recoveries", two_years, CITY, 16, cap=2, viewer=COMMANDER)
    assert r["truncated"] and r["total"] == 40 and r["total_approx"]


def test_cap_sends_the_newest_points_and_says_it_is_truncated(ssql):
    total = ssql("""SELECT count(*) FROM shot_alert WHERE geom && ST_MakeEnvelope(-76.72, 39.19, -76.52, 39.38, 4326)
                    AND alert_time >= '2024-01-01 00:00-05' AND alert_time < '2026-01-01 00:00-05'""")[0][0]
    assert total > 100
    two_years = MapFilters(dt.date(2024, 1, 1), dt.date(2025, 12, 31))
    r = viewport.layer_in_view("alerts", two_years, CITY, 16, cap=100, viewer=COMMANDER)
    assert r["mode"] == "points" and r["truncated"] and r["shown"] == 100
    # The total of a capped view comes from the pre-aggregated cells around the box (no exact count of
    # every point in view): at least the points in the box, at most those of the cells touching it.
    assert r["total_approx"] and total <= r["total"] <= total * 1.05
    times = [f["properties"]["time"] for f in r["geojson"]["features"]]
    newest = ssql("""SELECT to_char(max(alert_time AT TIME ZONE 'America/New_York'), 'YYYY-MM-DD HH24:MI')
                     FROM shot_alert WHERE geom IS NOT NULL AND alert_time < '2026-01-01 00:00-05'""")[0][0]
    assert max(times) == newest
    # Below POINT_ZOOM the same request is answered with cells holding every point.
    cells = viewport.layer_in_view("alerts", two_years, CITY, 12, cap=100, viewer=COMMANDER)
    assert cells["mode"] == "cells"
    w, s, e, n = density.snapped_bbox(CITY, density.cell_size(12))
    in_cells = ssql("""SELECT count(*) FROM shot_alert WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)
                       AND alert_time >= '2024-01-01 00:00-05' AND alert_time < '2026-01-01 00:00-05'""",
                    (w, s, e, n))[0][0]
    assert cells["total"] == sum(f["properties"]["n"] for f in cells["geojson"]["features"]) == in_cells


def test_cells_are_squares_of_the_zoom_size(ssql):
    c = density.cells("shootings", YEAR, CITY, 13)
    size = density.cell_size(13)
    assert c["geojson"]["features"]
    for f in c["geojson"]["features"][:20]:
        ring = f["geometry"]["coordinates"][0]
        xs = [density.mercator(lon, lat)[0] for lon, lat in ring]
        ys = [density.mercator(lon, lat)[1] for lon, lat in ring]
        assert max(xs) - min(xs) == pytest.approx(size, rel=5e-3)
        assert max(ys) - min(ys) == pytest.approx(size, rel=5e-3)
    assert c["max_cell"] == max(f["properties"]["n"] for f in c["geojson"]["features"])


def test_filters_narrow_recoveries(ssql):
    f = MapFilters(dt.date(2025, 1, 1), dt.date(2025, 12, 31), firearm_types=("PISTOL",), ttc_bands=("under 1 year",),
                   out_of_state_only=True, districts=("WESTERN", "EASTERN"))
    expected = ssql("""SELECT count(*) FROM recovery r JOIN trace t ON t.id = r.trace_id JOIN firearm f ON f.id = r.firearm_id
                       WHERE r.recovery_date BETWEEN '2025-01-01' AND '2025-12-31' AND f.firearm_type = 'PISTOL'
                       AND t.ttc_days < 365 AND t.source_in_state IS FALSE AND r.district IN ('WESTERN', 'EASTERN')""")[0][0]
    assert viewport.layer_totals(f)["recoveries"] == expected
    r = viewport.layer_in_view("recoveries", f, CITY, 12, viewer=COMMANDER)
    assert r["shown"] == expected or r["mode"] == "cells"
    for feat in r["geojson"]["features"]:
        p = feat["properties"]
        if p["stack"] == 1:
            assert p["kind"] == "PISTOL" and p["ttc_band"] == "under 1 year" and p["source_in_state"] is False


def test_details_redact_personal_fields_for_press_only(ssql):
    rid = ssql("""SELECT r.id FROM recovery r JOIN firearm f ON f.id = r.firearm_id
                  WHERE r.street IS NOT NULL AND f.serial_number IS NOT NULL
                  AND r.recovery_date BETWEEN '2025-01-01' AND '2025-12-31' LIMIT 1""")[0][0]
    commander = viewport.points_by_id("recoveries", YEAR, [rid], viewer=COMMANDER)[0]
    detective = viewport.points_by_id("recoveries", YEAR, [rid], viewer=DETECTIVE)[0]
    assert not PERSONAL & {k for k, v in commander.items() if v not in (None, "[restricted]")}
    street = ssql("SELECT street FROM recovery WHERE id = %s", (rid,))[0][0]
    assert detective["street"] == street and detective["serial_number"]
    assert detective["url"] == f"/firearm/{detective['firearm_id']}"
    assert commander["url"] is None and "firearm_id" not in commander, "no record links for commanders"
    exact = ssql("SELECT ST_X(geom), ST_Y(geom) FROM recovery WHERE id = %s", (rid,))[0]
    assert (detective["lon"], detective["lat"]) == pytest.approx(exact, abs=1e-9)
    assert (commander["lon"], commander["lat"]) == (round(exact[0], 3), round(exact[1], 3))
    with pytest.raises(access.Denied):
        viewport.points_by_id("recoveries", YEAR, [rid], viewer=PRESS)


def test_press_gets_coarse_cells_without_small_counts(ssql, monkeypatch):
    # 2: at 5% scale (49 shootings a year) no 500 m cell need hold three; single shootings must still go.
    monkeypatch.setenv("CGA_SMALL_COUNT", "2")
    r = viewport.layer_in_view("shootings", YEAR, CITY, 16, viewer=PRESS)
    assert r["mode"] == "cells" and r["cell_size_m"] >= 500
    assert r["geojson"]["features"] and all(f["properties"]["n"] >= 2 for f in r["geojson"]["features"])
    everything = viewport.layer_in_view("shootings", YEAR, CITY, density.coarsest_zoom(), mode="cells",
                                        viewer=DETECTIVE)
    assert r["total"] == sum(f["properties"]["n"] for f in everything["geojson"]["features"]
                             if f["properties"]["n"] >= 2)


def test_points_near_and_stacked_ids(ssql):
    lat, lon = 39.30, -76.645
    expected = ssql("""SELECT count(*) FROM incident WHERE is_firearm AND category IN ('shooting', 'homicide')
                       AND (crime_datetime AT TIME ZONE 'America/New_York')::date BETWEEN '2025-01-01' AND '2025-12-31'
                       AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 800)""",
                    (lon, lat))[0][0]
    near = viewport.points_near("shootings", YEAR, lat, lon, 800, viewer=DETECTIVE)
    assert len(near["rows"]) == min(expected, viewport.NEAR_LIMIT) and near["more"] == (expected > viewport.NEAR_LIMIT)
    assert all(r["url"] == f"/incident/{r['id']}" for r in near["rows"])
    times = [r["time"] for r in near["rows"]]
    assert times == sorted(times, reverse=True)


def test_alert_links_go_to_the_corroborated_incident(ssql):
    matched, unmatched = ssql("""SELECT (SELECT id FROM shot_alert WHERE incident_id IS NOT NULL ORDER BY id LIMIT 1),
                                        (SELECT id FROM shot_alert WHERE incident_id IS NULL ORDER BY id LIMIT 1)""")[0]
    everything = MapFilters(dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    rows = {r["id"]: r for r in viewport.points_by_id("alerts", everything, [matched, unmatched], viewer=DETECTIVE)}
    incident = ssql("SELECT incident_id FROM shot_alert WHERE id = %s", (matched,))[0][0]
    assert rows[matched]["url"] == f"/incident/{incident}"
    assert rows[unmatched]["url"] is None
    commander = viewport.points_by_id("alerts", everything, [matched], viewer=COMMANDER)[0]
    assert commander.get("address") in (None, "[restricted]") and commander["url"] is None


def test_stack_places_groups_points_at_one_place():
    rows = [{"id": 3, "time": "c", "kind": "shooting", "lon": -76.60001, "lat": 39.30001},
            {"id": 2, "time": "b", "kind": "shooting", "lon": -76.60002, "lat": 39.30002},
            {"id": 1, "time": "a", "kind": "homicide", "lon": -76.61, "lat": 39.31}]
    fc = viewport.stack_places(rows)
    stacks = sorted(f["properties"]["stack"] for f in fc["features"])
    assert stacks == [1, 2]
    stacked = [f for f in fc["features"] if f["properties"]["stack"] == 2][0]
    assert stacked["properties"]["ids"] == [3, 2] and stacked["properties"]["time"] == "c"


def test_district_measures_and_panel(ssql):
    rows = district_panel.district_measures(YEAR)
    by_sql = dict(ssql("""SELECT district, count(*) FROM incident WHERE is_firearm AND category IN ('shooting', 'homicide')
                          AND (crime_datetime AT TIME ZONE 'America/New_York')::date BETWEEN '2025-01-01' AND '2025-12-31'
                          AND district IS NOT NULL GROUP BY 1"""))
    assert {r["district"]: r["shootings"] for r in rows if r["shootings"]} == by_sql
    for r in rows:
        if r["population"]:
            assert r["shootings_rate"] == round(1000 * r["shootings"] / r["population"], 2)
    panel = district_panel.district_panel("WESTERN", YEAR)
    assert panel["counts"]["shootings"]["now"] == by_sql["WESTERN"]
    assert sum(s["n"] for s in panel["source_states"]) == panel["counts"]["recoveries"]["now"]
    assert sum(m["shootings"] for m in panel["monthly"]) == by_sql["WESTERN"]
    assert [p["n"] for p in panel["top_locations"]] == sorted((p["n"] for p in panel["top_locations"]), reverse=True)


def test_dealers_and_flows_add_up(ssql):
    guns = ssql("""SELECT count(*) FROM recovery r JOIN trace t ON t.id = r.trace_id JOIN dealer d ON d.id = t.dealer_id
                   WHERE r.recovery_date BETWEEN '2025-01-01' AND '2025-12-31' AND d.geom IS NOT NULL""")[0][0]
    dealers = dealers_map.source_dealers(YEAR)
    assert dealers["guns"] == guns
    feats = dealers["geojson"]["features"]
    assert all(f["properties"]["in_state"] == (f["properties"]["state"] == "MD") for f in feats)
    assert [f["properties"]["guns"] for f in feats] == sorted((f["properties"]["guns"] for f in feats), reverse=True)
    assert not {"license_name", "premise_street", "voice_phone"} & set(feats[0]["properties"])
    flows = dealers_map.state_flows(YEAR)
    by_state = dict(ssql("""SELECT t.source_state, count(*) FROM recovery r JOIN trace t ON t.id = r.trace_id
                            JOIN dealer d ON d.id = t.dealer_id WHERE d.geom IS NOT NULL AND t.source_state IS NOT NULL
                            AND r.recovery_date BETWEEN '2025-01-01' AND '2025-12-31' GROUP BY 1"""))
    assert {r["state"]: r["guns"] for r in flows["table"]} == by_state
    assert all(f["geometry"]["type"] == "LineString" for f in flows["geojson"]["features"])


def test_precomputed_cells_equal_counted_points_and_are_skipped_when_stale(ssql, synthetic_db):
    from layers import db

    density.refresh_map_cells(db.engine(synthetic_db))
    two_years = MapFilters(dt.date(2024, 1, 1), dt.date(2025, 12, 31))
    cases = [("alerts", two_years, 11), ("alerts", MapFilters(dt.date(2025, 3, 1), dt.date(2025, 5, 31),
                                                                alert_types=("MULTIPLE_GUNSHOTS",)), 13),
             ("shootings", MapFilters(dt.date(2025, 1, 1), dt.date(2025, 12, 31), districts=("WESTERN",)), 12),
             ("recoveries", MapFilters(dt.date(2024, 6, 1), dt.date(2025, 6, 1), firearm_types=("PISTOL", "RIFLE")), 14)]
    for layer, f, z in cases:
        assert density.precomputed(layer, f, z)
        fast = density.cells(layer, f, CITY, z, use_precomputed=True)
        slow = density.cells(layer, f, CITY, z, use_precomputed=False)
        assert fast["precomputed"] and not slow["precomputed"]
        assert fast["total"] > 0
        assert {c["properties"]["cell"]: c["properties"]["n"] for c in fast["geojson"]["features"]} == \
            {c["properties"]["cell"]: c["properties"]["n"] for c in slow["geojson"]["features"]}, (layer, z)
        box = (-76.66, 39.28, -76.62, 39.31)  # a capped view's "about N": the finest cells' sum, without drawing them
        assert density.precomputed_total(layer, f, box) == \
            density.cells(layer, f, box, density.BASE_ZOOM, use_precomputed=True)["total"] > 0, layer
    assert not density.precomputed("alerts", two_years, 15), "finer than the stored grid"
    assert not density.precomputed("recoveries", MapFilters(dt.date(2025, 1, 1), dt.date(2025, 2, 1),
                                                            out_of_state_only=True), 12)
    # A finished load makes the stored cells stale: the map counts points again until the next refresh.
    ssql("INSERT INTO etl_run (status, file_path, rows_read, rows_loaded, rows_updated, rows_duplicate, rows_rejected) "
         "VALUES ('succeeded', 'map-stale-check', 0, 0, 0, 0, 0) RETURNING id")
    try:
        assert not density.precomputed("alerts", two_years, 11)
    finally:
        ssql("DELETE FROM etl_run WHERE file_path = 'map-stale-check' RETURNING id")
    assert density.precomputed("alerts", two_years, 11)


def test_packed_points_hold_the_same_places_at_each_viewers_precision(ssql):
    """What the map sends (packed columns) holds the places of the GeoJSON answer, and a commander's
    coordinates stay rounded to 3 decimals in it."""
    box = (-76.66, 39.28, -76.60, 39.32)
    for viewer in (COMMANDER, DETECTIVE):
        for key in ("alerts", "shootings", "recoveries"):
            r = viewport.layer_in_view(key, YEAR, box, 15, viewer=viewer, packed=True)
            assert r["mode"] == "points" and r["packed"]["n"] == len(r["geojson"]["features"]) > 0, key
            assert r["packed"] == viewport.pack(r["geojson"])
            assert r["packed"]["q"] == (1000 if viewer is COMMANDER else 100_000), (key, viewer.role)
    cells = viewport.layer_in_view("alerts", YEAR, box, 15, mode="cells", viewer=DETECTIVE, packed=True)
    assert cells["mode"] == "cells" and "packed" not in cells


def test_square_merge_gives_the_plain_querys_points_and_uses_the_square_indexes(ssql):
    """A zoomed-in view reads its points as a merge of the 0.01-degree squares it touches (migration 0010):
    the same rows, in the same order, as the plain query, for every layer, with filters, caps that cut and
    boxes whose edges fall on and across square edges; and the plan really reads the square indexes
    (a changed point_square that no longer matches its index would fall back to a slow plan unnoticed)."""
    from sqlalchemy import text

    from layers.db import read_engine
    from layers.map_filters import LAYERS

    boxes = [(-76.66, 39.28, -76.62, 39.31), (-76.6449, 39.2901, -76.6251, 39.3099), (-76.63, 39.29, -76.60, 39.30),
             CITY]
    filtered = MapFilters(dt.date(2024, 1, 1), dt.date(2025, 12, 31), ttc_bands=("unknown", "under 1 year"),
                          firearm_types=("PISTOL",), alert_types=("MULTIPLE_GUNSHOTS",))
    checked = 0
    for key, layer in LAYERS.items():
        for filters in (YEAR, filtered):
            for box in boxes:
                squares = viewport.squares_in(box)
                if squares is None:
                    assert box == CITY, "only the whole city is over the squares' limit"
                    continue
                env = "p.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
                params = dict(zip(("w", "s", "e", "n"), box, strict=True))
                for cap in (5, 40, 5000):
                    plain = viewport._rows(layer, filters, env, params, cap, DETECTIVE, compact=True)
                    merged = viewport._square_rows(layer, filters, env, params, squares, cap, DETECTIVE)
                    assert merged == plain, (key, box, cap)
                    checked += len(plain)
    assert checked > 300
    # Every point lies in a square squares_in lists for a box around it (Python and SQL agree on the edges).
    for lon, lat, square in ssql("SELECT ST_X(geom), ST_Y(geom), point_square(geom) FROM shot_alert LIMIT 3000"):
        assert square in viewport.squares_in((lon, lat, lon, lat)), (lon, lat)
    box = (-76.66, 39.28, -76.62, 39.31)
    sql = viewport._square_sql(LAYERS["recoveries"], "TRUE", viewport.squares_in(box), "\"id\", \"time\"")
    with read_engine().connect() as conn:
        conn.execute(text("SET LOCAL enable_sort = off"))
        plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql), {"limit": 10}))
    assert "Merge Append" in plan and "ix_view_recovery_square" in plan and not re.search(r"->\s+Sort\b", plan), plan
