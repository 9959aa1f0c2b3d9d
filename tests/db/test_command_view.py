"""The commander's view on a small synthetic Baltimore: the district table, the chart bins of the district
panel, the source ranking, flow labels and the district briefing. Expected numbers come from SQL of
the test's own on the same database."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from dashboard import briefing
from layers import access, dealers_map, district_panel
from layers.map_filters import MapFilters
from tests.conftest import query_runner

pytestmark = pytest.mark.db

SPRING = MapFilters(dt.date(2025, 3, 1), dt.date(2025, 5, 31))
PRESS = access.Viewer("t", "press")
COMMANDER = access.Viewer("t", "commander")
LOCAL = "America/New_York"


@pytest.fixture
def ssql(synthetic_db):
    return query_runner(synthetic_db)


def counts_by_district(ssql, start: str, end: str) -> dict[str, dict[str, int]]:
    rows = ssql(f"""
        SELECT district, 'nonfatal', count(*) FROM incident WHERE is_firearm AND category = 'shooting'
          AND (crime_datetime AT TIME ZONE '{LOCAL}')::date BETWEEN %(s)s AND %(e)s GROUP BY 1
        UNION ALL SELECT district, 'homicides', count(*) FROM incident WHERE is_firearm AND category = 'homicide'
          AND (crime_datetime AT TIME ZONE '{LOCAL}')::date BETWEEN %(s)s AND %(e)s GROUP BY 1
        UNION ALL SELECT district, 'alerts', count(*) FROM shot_alert
          WHERE (alert_time AT TIME ZONE '{LOCAL}')::date BETWEEN %(s)s AND %(e)s GROUP BY 1
        UNION ALL SELECT district, 'recoveries', count(*) FROM recovery
          WHERE recovery_date BETWEEN %(s)s AND %(e)s GROUP BY 1""", {"s": start, "e": end})
    out: dict[str, dict[str, int]] = {}
    for district, key, n in rows:
        if district is not None:
            out.setdefault(district, {})[key] = n
    return out


@pytest.fixture
def populations(synthetic_db):
    """Populations for two districts (the synthetic boundaries carry none), restored afterwards."""
    import psycopg

    dsn = synthetic_db.replace("postgresql+psycopg://", "postgresql://", 1)

    def ssql(statement: str) -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute(statement)

    ssql("UPDATE boundary SET population = CASE name WHEN 'WESTERN' THEN 41234 ELSE 52000 END "
         "WHERE kind = 'district' AND name IN ('WESTERN', 'CENTRAL') AND population IS NULL")
    yield
    ssql("UPDATE boundary SET population = NULL WHERE kind = 'district' AND name IN ('WESTERN', 'CENTRAL')")


def test_district_table_matches_sql_with_year_earlier_change_and_rates(ssql, populations):
    now = counts_by_district(ssql, "2025-03-01", "2025-05-31")
    before = counts_by_district(ssql, "2024-03-01", "2024-05-31")
    population = dict(ssql("""SELECT name, population FROM boundary WHERE kind = 'district'
                              AND (valid_from IS NULL OR valid_from <= '2025-05-31')
                              AND (valid_to IS NULL OR valid_to >= '2025-05-31')"""))
    rows = district_panel.district_table(SPRING)
    assert [r["district"] for r in rows] == sorted(set(population) | set(now))
    assert sum(r["homicides"] for r in rows) > 0 and sum(r["nonfatal"] for r in rows) > 0
    checked_rate = checked_change = 0
    for r in rows:
        for key in district_panel.TABLE_MEASURES:
            n, b = now.get(r["district"], {}).get(key, 0), before.get(r["district"], {}).get(key, 0)
            assert (r[key], r[f"{key}_before"]) == (n, b), (r["district"], key)
            if b:
                assert r[f"{key}_change"] == round(100.0 * (n - b) / b, 1)
                checked_change += 1
            else:
                assert r[f"{key}_change"] is None
            pop = population.get(r["district"])
            if pop:
                assert r[f"{key}_rate"] == round(1000.0 * n / pop, 2)
                checked_rate += 1
            else:
                assert r[f"{key}_rate"] is None
    assert checked_rate and checked_change
    # Shootings on the map are the two split columns together.
    shootings = {r["district"]: r["shootings"] for r in district_panel.district_measures(SPRING)}
    assert all(r["nonfatal"] + r["homicides"] == shootings.get(r["district"], 0) for r in rows)


def test_district_table_for_press_suppresses_small_counts_and_their_pair(synthetic_db):
    threshold = access.small_count_threshold()
    rows = district_panel.district_table(MapFilters(dt.date(2025, 5, 1), dt.date(2025, 5, 31)), PRESS)
    full = {r["district"]: r for r in district_panel.district_table(MapFilters(dt.date(2025, 5, 1),
                                                                              dt.date(2025, 5, 31)), COMMANDER)}
    assert any(r["homicides"] is None for r in rows), "a month has districts with few homicides"
    for r in rows:
        for key in district_panel.TABLE_MEASURES:
            for field in (key, f"{key}_before"):
                assert r[field] is None or r[field] == 0 or r[field] >= threshold
                assert r[field] is None or r[field] == full[r["district"]][field]
            if r[key] is None:
                assert r[f"{key}_rate"] is None and r[f"{key}_change"] is None
        # One of the two shooting columns alone suppressed would be given away by the map's total.
        assert (r["nonfatal"] is None) == (r["homicides"] is None)


def test_chart_bins_follow_the_period_length(ssql):
    d = dt.date(2025, 1, 1)
    assert district_panel.bin_for(d, d) == "day"
    assert district_panel.bin_for(d, d + dt.timedelta(days=30)) == "day"      # 31 days
    assert district_panel.bin_for(d, d + dt.timedelta(days=31)) == "week"     # 32 days
    assert district_panel.bin_for(d, d + dt.timedelta(days=182)) == "week"    # 183 days, six months
    assert district_panel.bin_for(d, d + dt.timedelta(days=183)) == "month"
    shootings = ("SELECT count(*) FROM incident WHERE is_firearm AND category IN ('shooting', 'homicide') "
                 f"AND district = 'WESTERN' AND (crime_datetime AT TIME ZONE '{LOCAL}')::date BETWEEN %s AND %s")
    for start, end, bin_, n_bins in ((dt.date(2025, 6, 1), dt.date(2025, 6, 14), "day", 14),
                                     (dt.date(2025, 4, 2), dt.date(2025, 6, 30), "week", 14),
                                     (dt.date(2025, 1, 1), dt.date(2025, 12, 31), "month", 12)):
        panel = district_panel.district_panel("WESTERN", MapFilters(start, end))
        assert panel["bin"] == bin_
        assert len(panel["monthly"]) == n_bins, "every bin, empty ones as zero"
        assert sum(m["shootings"] for m in panel["monthly"]) == ssql(shootings, (start, end))[0][0]
    weekly = district_panel.district_panel("WESTERN", MapFilters(dt.date(2025, 4, 2), dt.date(2025, 6, 30)))
    assert all(dt.date.fromisoformat(m["period"]).weekday() == 0 for m in weekly["monthly"])


def test_source_ranking_counts_share_and_median_time_to_crime(ssql):
    year = MapFilters(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    total = ssql("SELECT count(*) FROM recovery WHERE recovery_date BETWEEN '2025-01-01' AND '2025-12-31'")[0][0]
    states = ssql("""SELECT t.source_state, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ttc_days)
                     FROM recovery r JOIN trace t ON t.id = r.trace_id
                     WHERE r.recovery_date BETWEEN '2025-01-01' AND '2025-12-31' AND t.source_state IS NOT NULL
                     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10""")
    r = district_panel.source_ranking(year, COMMANDER)
    assert r["total"] == total
    assert [(s["name"], s["n"]) for s in r["states"]] == [(s, n) for s, n, _ in states]
    for got, (_, n, median) in zip(r["states"], states, strict=True):
        assert got["share"] == round(100.0 * n / total, 1)
        assert got["median_ttc"] == (None if median is None else round(median))
    dealers = ssql("""SELECT t.dealer_id, count(*) FROM recovery r JOIN trace t ON t.id = r.trace_id
                      WHERE r.recovery_date BETWEEN '2025-01-01' AND '2025-12-31' AND t.dealer_id IS NOT NULL
                      GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10""")
    assert [d["n"] for d in r["dealers"]] == [n for _, n in dealers]
    licensees = {name.upper() for (name,) in ssql("SELECT license_name FROM dealer WHERE license_name IS NOT NULL")}
    for d in r["dealers"]:
        assert d["name"].startswith("Individual licensee") or d["name"].upper() not in licensees \
            or access.is_organisation(d["name"]), "an individual licensee is never named for commanders"
    press = district_panel.source_ranking(year, PRESS)
    assert press["dealers"] == [] and not press["dealers_shown"]
    assert all(s["n"] is None or s["n"] >= access.small_count_threshold() for s in press["states"])


def test_flow_labels_never_overlap(synthetic_db):
    flows = dealers_map.state_flows(MapFilters(dt.date(2024, 1, 1), dt.date(2025, 12, 31)))
    labels = flows["labels"]["features"]
    assert 0 < len(labels) <= dealers_map.MAX_FLOW_LABELS
    names = [f["properties"]["name"] for f in labels]
    assert names[0].startswith(flows["table"][0]["state"]), "the largest flow is always labelled"
    boxes = []
    for f in labels:
        lon, lat = f["geometry"]["coordinates"]
        half = len(f["properties"]["name"]) * dealers_map.LABEL_DEG_PER_CHAR / 2
        boxes.append((lon - half, lat, lon + half, lat + dealers_map.LABEL_HEIGHT_DEG))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] - 1e-3 and b[0] < a[2] - 1e-3 and a[1] < b[3] - 1e-3 and b[1] < a[3] - 1e-3)


def test_briefing_pdf_one_page_per_district_and_audited(ssql):
    from pypdf import PdfReader

    out = briefing.export_briefing(SPRING, ["WESTERN", "CENTRAL"], COMMANDER)
    assert out.content[:4] == b"%PDF" and out.mime == "application/pdf"
    assert len(PdfReader(io.BytesIO(out.content)).pages) == 2
    kind, ids = ssql("SELECT record_kind, record_ids FROM audit.event WHERE event = 'export' ORDER BY id DESC LIMIT 1")[0]
    assert kind == "briefing" and list(ids) == ["WESTERN", "CENTRAL"]
    doc, _ = briefing.briefing_html(SPRING, ["WESTERN"], COMMANDER)
    assert "Top shooting blocks" in doc and " block " in doc
    press_doc, _ = briefing.briefing_html(MapFilters(dt.date(2025, 5, 1), dt.date(2025, 5, 31)), ["WESTERN"], PRESS)
    assert "Top shooting blocks" not in press_doc and " block " not in press_doc
    assert f"&lt;{access.small_count_threshold()}" in press_doc
