"""Pure helpers of the investigation pages: licence and serial parsing, time-to-crime words, distances,
map fitting, graph merging and export (no database)."""

from __future__ import annotations

import pytest

from dashboard.components.journey_view import fit_view
from dashboard.components.network_view import elements, merge, to_csv
from layers.indicators import ttc_band, years_months
from layers.journey import haversine_km, path_distance_km
from layers.network import page_of, parse_node, to_csv_rows
from layers.search import ffl_pattern, normalize_code


@pytest.mark.parametrize(("typed", "pattern"), [
    ("8-52-027-07-7A-07579", "8520270707579%"),   # with the expiry part
    ("8-52-027-07-07579", "8520270707579%"),      # without it
    ("852027077A07579", "8520270707579%"),        # no dashes
    ("8-52-027", "852027%"),                      # a prefix
    ("GLOCK", ""), ("AB-123", ""), ("", ""),
])
def test_ffl_pattern(typed, pattern):
    assert ffl_pattern(typed) == pattern


def test_normalize_code_ignores_case_spaces_and_dashes():
    assert normalize_code(" ab-12 3\t45 ") == "AB12345"


@pytest.mark.parametrize(("days", "band", "words"), [
    (None, None, "unknown"), (1, "under 1 year", "1 day"), (45, "under 1 year", "45 days"),
    (142, "under 1 year", "5 months"), (365, "1–3 years", "1 year"), (427, "1–3 years", "1 year 2 months"),
    (1095, "over 3 years", "3 years"),
])
def test_ttc_band_and_words(days, band, words):
    assert ttc_band(days) == band
    assert years_months(days) == words


def test_distances():
    richmond, baltimore = (37.5407, -77.4360), (39.2904, -76.6122)
    assert 205 < haversine_km(richmond, baltimore) < 215
    path = [{"lat": a, "lon": b} for a, b in (richmond, baltimore, richmond)]
    assert path_distance_km(path) == pytest.approx(2 * haversine_km(richmond, baltimore))
    assert path_distance_km(path[:1]) == 0


def test_fit_view_zooms_out_for_long_paths():
    (lat, lon), city = fit_view([[39.25, -76.70], [39.35, -76.55]])
    assert 39.25 < lat < 39.35 and -76.70 < lon < -76.55
    _, corridor = fit_view([[37.5, -77.5], [39.35, -76.55]])
    assert corridor < city and 5 <= corridor <= 9


def test_node_ids_and_pages():
    assert parse_node("firearm:12") == ("firearm", "12")
    assert page_of("dealer:3") == "/dealer/3"
    assert page_of("place:1000 N MOUNT ST") is None, "an address never goes into a URL"
    with pytest.raises(ValueError):
        parse_node("firearm:1;DROP")


def _graph(nodes, edges, focus=None):
    return {"focus": [focus] if focus else [], "path": [], "truncated": False,
            "nodes": [{"id": n, "kind": n.split(":")[0], "label": n.upper(), "sub": "", "page": "/x", "hop": 0,
                       "focus": n == focus} for n in nodes],
            "edges": [{"id": f"{a}|{r}|{b}", "source": a, "target": b, "relation": r, "date": "2021-01-01",
                       "detail": "T1"} for a, r, b in edges]}


def test_merge_keeps_focus_and_deduplicates():
    g = _graph(["firearm:1", "person:2"], [("person:2", "possessed", "firearm:1")], focus="firearm:1")
    more = _graph(["person:2", "firearm:3"], [("person:2", "possessed", "firearm:1"),
                                               ("person:2", "purchased", "firearm:3")], focus="person:2")
    m = merge(g, more)
    assert [n["id"] for n in m["nodes"]] == ["firearm:1", "person:2", "firearm:3"]
    assert [n["focus"] for n in m["nodes"]] == [True, False, False]
    assert len(m["edges"]) == 2 and m["focus"] == ["firearm:1"]


def test_elements_mark_the_path_and_csv_lists_everything():
    g = _graph(["firearm:1", "person:2", "firearm:3"], [("person:2", "possessed", "firearm:1"),
                                                         ("person:2", "purchased", "firearm:3")])
    g["path"] = ["firearm:1", "person:2"]
    els = {e["data"]["id"]: e["classes"] for e in elements(g)}
    assert "path" in els["firearm:1"] and "path" not in els["firearm:3"]
    assert "path" in els["person:2|possessed|firearm:1"] and "path" not in els["person:2|purchased|firearm:3"]
    assert "rel-possessed" in els["person:2|possessed|firearm:1"]
    text = to_csv(to_csv_rows(g))
    lines = text.strip().splitlines()
    assert lines[0] == "record,id,kind,label,detail,source,target,relation,date"
    assert len(lines) == 1 + 3 + 2 and lines[-1].startswith("edge,person:2|purchased|firearm:3")


def test_dealer_record_against_peers():
    from layers.indicators import dealer_indicator, dealer_z

    assert dealer_z(5, 20, 0.25) == pytest.approx(0.0)
    assert dealer_z(20, 21, 0.25) == pytest.approx(7.43, abs=0.01)
    assert dealer_z(1, 0, 0.25) is None
    peers = {"dealers": 100, "median_traces": 1.0, "p90_traces": 7.0, "overall_short_share": 0.25,
             "median_short_share": 0.2, "p90_short_share": 0.6}
    fast = dealer_indicator({"traces": 21, "short_traces": 20, "short_share": 20 / 21, "peers": peers}, "FAST")
    assert fast["status"] == "strong" and "z = 7.4" in fast["finding"] and "21 traced guns" in fast["finding"]
    usual = dealer_indicator({"traces": 4, "short_traces": 1, "short_share": 0.25, "peers": peers}, "USUAL")
    assert usual["status"] == "clear" and usual["evidence"]["expected under 1 year at that share"] == "1"
    big = dealer_indicator({"traces": 300, "short_traces": 75, "short_share": 0.25, "peers": peers}, "BIG")
    assert big["status"] == "flag" and "more than 90% of dealers" in big["finding"]
