"""Public charts on the small synthetic Baltimore: every figure against SQL of its own, small-count
suppression by role, the gate, and the audited exports (PNG, SVG, PDF, CSV, press packet)."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from layers import access, public_stats
from tests.conftest import query_runner

pytestmark = pytest.mark.db

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
PRESS = access.Viewer("press-test", "press")
DETECTIVE = access.Viewer("detective-test", "detective")
TZ = "America/New_York"
# Everything a public row may hold: no ids, names, serial, trace or case numbers, addresses or coordinates.
PUBLIC_KEYS = {"month", "recoveries", "state", "guns", "home_state", "share_pct", "band", "firearm_type",
               "manufacturer", "ghost_guns", "district", "shootings_homicides", "alerts", "measure", "this_period",
               "this_year", "last_period", "last_year", "change_pct"}


@pytest.fixture
def q(synthetic_db):
    return query_runner(synthetic_db)


def rows_as(viewer, key, start=START, end=END, districts=None):
    with access.use_viewer(viewer):
        return public_stats.FUNCTIONS[key](start, end, districts)


def threshold():
    return access.small_count_threshold()


def shown(n, viewer):
    """What a viewer should see of a count n."""
    return n if viewer.can("records") or not 0 < n < threshold() else None


def test_data_as_of_is_the_latest_record(q):
    expected = q(f"""SELECT max(d) FROM (
        SELECT max(crime_datetime AT TIME ZONE '{TZ}')::date d FROM incident
        UNION ALL SELECT max(alert_time AT TIME ZONE '{TZ}')::date FROM shot_alert
        UNION ALL SELECT max(recovery_date) FROM recovery UNION ALL SELECT max(lead_date) FROM nibin_lead) x""")[0][0]
    with access.use_viewer(PRESS):
        assert public_stats.data_as_of() == expected
    assert expected.year == 2025


@pytest.mark.parametrize("viewer", [DETECTIVE, PRESS], ids=["detective", "press"])
def test_recoveries_and_ghost_guns_by_month_match_sql(q, viewer):
    rec = dict(q("SELECT to_char(recovery_date, 'YYYY-MM'), count(*) FROM recovery "
                 "WHERE recovery_date BETWEEN %s AND %s GROUP BY 1", (START, END)))
    ghost = dict(q("SELECT to_char(r.recovery_date, 'YYYY-MM'), count(*) FROM recovery r JOIN trace t ON t.id = r.trace_id "
                   "WHERE r.recovery_date BETWEEN %s AND %s AND t.trace_status = 'PRIVATELY_MADE' GROUP BY 1",
                   (START, END)))
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    assert rows_as(viewer, "recoveries_by_month") == [
        {"month": m, "recoveries": shown(rec.get(m, 0), viewer)} for m in months]
    assert rows_as(viewer, "ghost_guns_by_month") == [
        {"month": m, "ghost_guns": shown(ghost.get(m, 0), viewer)} for m in months]
    assert sum(ghost.values()) > 0


def test_source_states_and_out_of_state_share_match_sql(q):
    per_state = dict(q("SELECT coalesce(t.source_state, '?'), count(*) FROM recovery r JOIN trace t ON t.id = r.trace_id "
                       "WHERE r.recovery_date BETWEEN %s AND %s GROUP BY 1", (START, END)))
    unknown = per_state.pop("?", 0)
    known = sum(per_state.values())
    rows = rows_as(DETECTIVE, "source_states")
    states = {r["state"]: r for r in rows}
    top = sorted(per_state.items(), key=lambda kv: (-kv[1], kv[0]))[:public_stats.TOP_STATES]
    for state, n in top:
        assert states[state]["guns"] == n and states[state]["home_state"] == (state == "MD")
        assert states[state]["share_pct"] == round(100 * n / known, 1)
    other = [r for r in rows if r["state"].startswith("Other states")]
    assert sum(r["guns"] for r in other) == known - sum(n for _, n in top)
    assert states["Unknown"]["guns"] == unknown

    out_of_state = sum(n for s, n in per_state.items() if s != "MD")
    with access.use_viewer(DETECTIVE):
        share = public_stats.out_of_state_share(START, END)
    assert share == {"home_state": "MD", "known_source": known, "out_of_state": out_of_state,
                     "share_pct": round(100 * out_of_state / known, 1)}
    # The press sees the same states that are large enough; the small ones are grouped, not listed as gaps.
    press = rows_as(PRESS, "source_states")
    assert all(r["guns"] is None or r["guns"] == 0 or r["guns"] >= threshold() for r in press)
    assert sum(r["guns"] or 0 for r in press) <= known + unknown


def test_time_to_crime_types_and_makers_match_sql(q):
    bands = dict(q("""SELECT CASE WHEN t.ttc_days IS NULL THEN 'unknown' WHEN t.ttc_days < 365 THEN 'under 1 year'
                      WHEN t.ttc_days < 3 * 365 THEN '1–3 years' ELSE 'over 3 years' END, count(*)
                      FROM recovery r JOIN trace t ON t.id = r.trace_id WHERE r.recovery_date BETWEEN %s AND %s
                      GROUP BY 1""", (START, END)))
    total = sum(bands.values())
    assert rows_as(DETECTIVE, "time_to_crime") == [
        {"band": b, "guns": bands.get(b, 0), "share_pct": round(100 * bands.get(b, 0) / total, 1)}
        for b in ("under 1 year", "1–3 years", "over 3 years", "unknown")]

    types = dict(q("SELECT f.firearm_type, count(*) FROM recovery r JOIN firearm f ON f.id = r.firearm_id "
                   "WHERE r.recovery_date BETWEEN %s AND %s GROUP BY 1", (START, END)))
    assert {r["firearm_type"]: r["guns"] for r in rows_as(DETECTIVE, "firearm_types")} == types
    assert {r["firearm_type"]: r["guns"] for r in rows_as(PRESS, "firearm_types")} == {
        t: shown(n, PRESS) for t, n in types.items()}

    makers = q("SELECT f.manufacturer, count(*) FROM recovery r JOIN firearm f ON f.id = r.firearm_id "
               "WHERE r.recovery_date BETWEEN %s AND %s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10", (START, END))
    assert [(r["manufacturer"], r["guns"]) for r in rows_as(DETECTIVE, "top_makers")] == makers


def test_shootings_and_alerts_by_district_month_match_sql(q):
    districts = ["WESTERN", "EASTERN"]
    shootings = {(d, m): n for d, m, n in q(
        f"SELECT district, to_char(crime_datetime AT TIME ZONE '{TZ}', 'YYYY-MM'), count(*) FROM incident "
        f"WHERE is_firearm AND category IN ('shooting', 'homicide') AND district = ANY(%s) "
        f"AND (crime_datetime AT TIME ZONE '{TZ}')::date BETWEEN %s AND %s GROUP BY 1, 2", (districts, START, END))}
    alerts = {(d, m): n for d, m, n in q(
        f"SELECT district, to_char(alert_time AT TIME ZONE '{TZ}', 'YYYY-MM'), count(*) FROM shot_alert "
        f"WHERE district = ANY(%s) AND (alert_time AT TIME ZONE '{TZ}')::date BETWEEN %s AND %s GROUP BY 1, 2",
        (districts, START, END))}
    assert sum(alerts.values()) > 0 and sum(shootings.values()) > 0
    for viewer in (DETECTIVE, PRESS):
        rows = rows_as(viewer, "shootings_alerts_by_district", districts=districts)
        assert len(rows) == 2 * 12 and {r["district"] for r in rows} == set(districts)
        for r in rows:
            cell = (r["district"], r["month"])
            assert r["shootings_homicides"] == shown(shootings.get(cell, 0), viewer), cell
            assert r["alerts"] == shown(alerts.get(cell, 0), viewer), cell


def test_year_to_date_comparison_matches_sql(q):
    as_of = dt.date(2025, 6, 30)   # the end of the range is earlier than the last data date: YTD stops there
    def incidents(category, a, b):
        return q(f"SELECT count(*) FROM incident WHERE is_firearm AND category = %s "
                 f"AND (crime_datetime AT TIME ZONE '{TZ}')::date BETWEEN %s AND %s", (category, a, b))[0][0]
    spans = ((dt.date(2025, 1, 1), as_of), (dt.date(2024, 1, 1), dt.date(2024, 6, 30)))
    expected = {
        "Shootings": [incidents("shooting", *s) for s in spans],
        "Homicides": [incidents("homicide", *s) for s in spans],
        "ShotSpotter alerts": [q(f"SELECT count(*) FROM shot_alert WHERE (alert_time AT TIME ZONE '{TZ}')::date "
                                 "BETWEEN %s AND %s", s)[0][0] for s in spans],
        "Gun recoveries": [q("SELECT count(*) FROM recovery WHERE recovery_date BETWEEN %s AND %s", s)[0][0]
                           for s in spans],
    }
    rows = rows_as(DETECTIVE, "ytd_comparison", start=dt.date(2024, 7, 1), end=as_of)
    assert [r["measure"] for r in rows] == list(expected)
    for r in rows:
        now, before = expected[r["measure"]]
        assert (r["this_year"], r["last_year"]) == (now, before), r
        assert r["this_period"] == "2025-01-01 to 2025-06-30" and r["last_period"] == "2024-01-01 to 2024-06-30"
        assert r["change_pct"] == (round(100 * (now - before) / before, 1) if before else None)


def test_press_sees_small_counts_suppressed_detective_does_not(synthetic_db):
    """Every count cell of every chart: 1..threshold-1 is None for the press, the true number for a detective;
    and somewhere in these charts there is such a small count (so the check is not empty)."""
    small_seen = 0
    for key in public_stats.CHART_KEYS:
        press, detective = rows_as(PRESS, key), rows_as(DETECTIVE, key)
        for column in public_stats.COUNT_COLUMNS[key]:
            for p in press:
                assert p[column] is None or p[column] == 0 or p[column] >= threshold(), (key, p)
            if key == "source_states":
                continue   # small states are grouped for the press, so rows differ by design
            assert len(press) == len(detective), key
            for p, d in zip(press, detective, strict=True):
                assert d[column] is not None
                if 0 < d[column] < threshold():
                    small_seen += 1
                    assert p[column] is None, (key, p, d)
                else:
                    assert p[column] == d[column], (key, p, d)
    assert small_seen > 0


def test_rows_hold_no_identifying_fields(q):
    serials = {r[0] for r in q("SELECT serial_number FROM firearm WHERE serial_number IS NOT NULL")}
    traces = {r[0] for r in q("SELECT trace_number FROM trace")}
    for key in public_stats.CHART_KEYS:
        for row in rows_as(PRESS, key):
            assert set(row) <= PUBLIC_KEYS, (key, set(row) - PUBLIC_KEYS)
            assert not ({str(v) for v in row.values()} & (serials | traces)), key


def test_a_visitor_without_a_role_is_denied(synthetic_db):
    nobody = access.Viewer("someone", None)
    for key in public_stats.CHART_KEYS:
        with pytest.raises(access.Denied):
            rows_as(nobody, key)
    with access.use_viewer(nobody), pytest.raises(access.Denied):
        public_stats.data_as_of()
    from dashboard.charts import exports

    with access.use_viewer(nobody), pytest.raises(access.Denied):
        exports.export_chart("recoveries_by_month", "csv", START, END)


def _exports_logged(q) -> int:
    return q("SELECT count(*) FROM audit.event WHERE event = 'export'")[0][0]


def _last_export(q):
    return q("SELECT username, role, record_kind, record_ids, detail FROM audit.event WHERE event = 'export' "
             "ORDER BY id DESC LIMIT 1")[0]


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf", "csv"])
def test_each_chart_export_is_rendered_and_audited(q, fmt):
    from dashboard.charts import exports

    before = _exports_logged(q)
    with access.use_viewer(PRESS):
        as_of = public_stats.data_as_of()
        out = exports.export_chart("source_states", fmt, START, END, ["WESTERN", "EASTERN"])
    assert out.filename.endswith(f".{fmt}") and out.mime == exports.MIME[fmt]
    body = out.content
    if fmt == "png":
        assert body[:8] == b"\x89PNG\r\n\x1a\n"
    elif fmt == "svg":
        assert body.lstrip()[:4] == b"<svg" or body.lstrip()[:5] == b"<?xml"
        # the image itself says what it shows
        assert b"Data as of " + as_of.isoformat().encode() in body and b"Western, Eastern" in body
    elif fmt == "pdf":
        assert body[:4] == b"%PDF"
    else:
        text = body.decode("utf-8")
        header = [line for line in text.splitlines() if line.startswith("# ")]
        assert f"# Data as of: {as_of:%Y-%m-%d}" in header
        assert "# Filters: Districts: Western, Eastern" in header
        assert "# Date range: 2025-01-01 to 2025-12-31" in header
        assert any(line.startswith("# Method: ") for line in header)
        assert any(line.startswith("# Suppression: ") for line in header)
        assert any("Crime Gun Atlas" in line for line in header)
        import csv

        table = list(csv.DictReader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("# ")))))
        assert table and set(table[0]) == {"state", "guns", "home_state", "share_pct"}
    assert _exports_logged(q) == before + 1
    user, role, kind, ids, detail = _last_export(q)
    assert (user, role, kind, ids) == ("press-test", "press", "chart", ["source_states"])
    assert detail == {"format": fmt, "start": "2025-01-01", "end": "2025-12-31", "districts": ["WESTERN", "EASTERN"],
                      "data_as_of": as_of.isoformat()}


def test_csv_writes_suppressed_counts_as_below_threshold(synthetic_db):
    from dashboard.charts import exports

    with access.use_viewer(PRESS):
        text = exports.export_chart("recoveries_by_month", "csv", START, END, ["SOUTHEASTERN"]).content.decode()
    press_rows = rows_as(PRESS, "recoveries_by_month", districts=["SOUTHEASTERN"])
    body = [line for line in text.splitlines() if not line.startswith("# ")][1:]
    assert len(body) == 12
    for line, row in zip(body, press_rows, strict=True):
        count = f"<{threshold()}" if row["recoveries"] is None else row["recoveries"]
        assert line == f"{row['month']},{count}"
    assert any(row["recoveries"] is None for row in press_rows)


def test_press_packet_has_a_cover_and_one_page_per_chart(q):
    from pypdf import PdfReader

    from dashboard.charts import exports

    before = _exports_logged(q)
    with access.use_viewer(PRESS):
        as_of = public_stats.data_as_of()
        out = exports.export_packet(START, END)
    assert out.content[:4] == b"%PDF"
    reader = PdfReader(io.BytesIO(out.content))
    assert len(reader.pages) == len(public_stats.CHART_KEYS) + 1
    import unicodedata

    pages = [unicodedata.normalize("NFKC", p.extract_text()) for p in reader.pages]   # "ﬁ" ligatures -> "fi"
    cover = pages[0]
    assert "Data as of" in cover and as_of.isoformat() in cover and "All districts" in cover
    assert "2025-01-01 to 2025-12-31" in cover and "suppressed" in cover
    for number, key in enumerate(public_stats.CHART_KEYS, start=1):
        assert public_stats.TITLES[key] in pages[number] and f"Data as of {as_of}" in pages[number], key
    assert _exports_logged(q) == before + 1
    _, _, kind, ids, detail = _last_export(q)
    assert kind == "chart" and ids == list(public_stats.CHART_KEYS)
    assert detail["format"] == "pdf" and detail["packet"] is True and detail["data_as_of"] == as_of.isoformat()
