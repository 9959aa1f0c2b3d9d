"""The map's view state, date presets, playback frames and the density grid's arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.components.map_state import (
    DEFAULT_LAYERS,
    change_text,
    meters_per_pixel,
    parse_view,
    playback_frames,
    playback_window,
    preset_range,
    view_query,
)
from layers import density
from layers.map_filters import LAYERS, MapFilters, applies, where_clause

FIRST, LAST = dt.date(2021, 1, 1), dt.date(2025, 12, 31)


@pytest.mark.parametrize(("preset", "start"), [("7d", dt.date(2025, 12, 25)), ("28d", dt.date(2025, 12, 4)),
                                                ("ytd", dt.date(2025, 1, 1)), ("1y", dt.date(2025, 1, 1))])
def test_presets_count_back_from_the_latest_data(preset, start):
    assert preset_range(preset, LAST, FIRST) == (start, LAST)


def test_preset_never_starts_before_the_data():
    assert preset_range("1y", dt.date(2021, 3, 1), FIRST) == (FIRST, dt.date(2021, 3, 1))
    with pytest.raises(ValueError):
        preset_range("decade", LAST)


def test_view_round_trips_through_the_query_string():
    query = {"start": "2025-03-01", "end": "2025-03-31", "layers": "recoveries,dealers", "district": "WESTERN,CENTRAL",
             "alert": "SINGLE_GUNSHOT", "ftype": "PISTOL", "ttc": "under 1 year", "state": "VA,PA", "oos": "1",
             "cmp": "0", "display": "cells", "dens": "alerts", "measure": "alerts", "rate": "1", "step": "month", "cum": "1",
             "boundary": "post", "lat": "39.3", "lon": "-76.6", "z": "14"}
    view = parse_view(query, FIRST, LAST)
    assert view["districts"] == ["WESTERN", "CENTRAL"] and view["source_states"] == ["VA", "PA"]
    assert view["center"] == [39.3, -76.6] and view["zoom"] == 14 and view["boundary"] == "post"
    assert "boundary=post" in view_query(view)
    from urllib.parse import parse_qsl

    again = parse_view(dict(parse_qsl(view_query(view)[1:])), FIRST, LAST)
    assert again == view


def test_defaults_and_nonsense_in_the_url():
    view = parse_view({"start": "garbage", "end": "2030-01-01", "layers": "alerts,bogus", "z": "99",
                       "lat": "39", "measure": "DROP TABLE", "boundary": "county"}, FIRST, LAST)
    assert view["end"] == "2025-12-31" and view["start"] == "2025-12-04"  # last 28 days of data
    assert view["layers"] == ["alerts"] and view["zoom"] is None and view["center"] is None
    assert view["measure"] == "shootings" and view["boundary"] == "district"
    assert parse_view({}, FIRST, LAST)["layers"] == list(DEFAULT_LAYERS)
    assert view_query(parse_view({}, FIRST, LAST)) == "?start=2025-12-04&end=2025-12-31"


def test_reversed_dates_are_swapped():
    view = parse_view({"start": "2025-05-01", "end": "2025-04-01"}, FIRST, LAST)
    assert (view["start"], view["end"]) == ("2025-04-01", "2025-05-01")


def test_playback_frames_cover_the_range_without_gaps():
    for step in ("day", "week", "month"):
        frames = playback_frames(dt.date(2025, 1, 15), dt.date(2025, 4, 10), step)
        assert frames[0][0] == dt.date(2025, 1, 15) and frames[-1][1] == dt.date(2025, 4, 10)
        for (_, end), (start, _) in zip(frames, frames[1:], strict=False):
            assert start == end + dt.timedelta(days=1)
    assert len(playback_frames(dt.date(2025, 1, 1), dt.date(2025, 3, 31), "month")) == 3
    assert playback_frames(dt.date(2025, 1, 15), dt.date(2025, 3, 31), "month")[1] == (
        dt.date(2025, 2, 1), dt.date(2025, 2, 28))


def test_playback_window_plain_and_cumulative():
    start, end = dt.date(2025, 1, 1), dt.date(2025, 3, 31)
    assert playback_window(start, end, "month", None, False) == (start, end, "")
    s, e, label = playback_window(start, end, "month", 1, False)
    assert (s, e) == (dt.date(2025, 2, 1), dt.date(2025, 2, 28)) and label.startswith("Month 2 of 3")
    s, e, _ = playback_window(start, end, "month", 1, True)
    assert (s, e) == (start, dt.date(2025, 2, 28))
    assert playback_window(start, end, "month", 99, False)[1] == end


def test_change_text():
    assert change_text(120, 100) == "+20% vs a year earlier (100)"
    assert change_text(80, 100) == "-20% vs a year earlier (100)"
    assert change_text(3, 0) == "a year earlier: 0 (new)"
    assert change_text(3, None) == ""
    assert change_text(1650, 1655) == "±0% vs a year earlier (1,655)"


def test_cells_nest_and_shrink_with_zoom():
    assert density.cell_size(12) == pytest.approx(2 * density.cell_size(13))
    assert density.cell_size(13.4) == density.cell_size(13)
    assert density.daily.CELL_SIZE == density.cell_size(density.BASE_ZOOM)  # the grid the derive counts cells on
    # ~40 px cells: at zoom 12 in Baltimore about 1.2 km on the ground
    assert 1000 < density.ground_size_m(density.cell_size(12), 39.3) < 1500
    assert meters_per_pixel(12, 39.3) * density.CELL_PX == pytest.approx(
        density.ground_size_m(density.cell_size(12), 39.3))


def test_snapped_box_contains_the_view_and_is_whole_cells():
    box = (-76.70, 39.20, -76.52, 39.37)
    size = density.cell_size(13)
    w, s, e, n = density.snapped_bbox(box, size)
    assert w <= box[0] and s <= box[1] and e >= box[2] and n >= box[3]
    for x, y in (density.mercator(w, s), density.mercator(e, n)):
        assert abs(x / size - round(x / size)) < 1e-6 and abs(y / size - round(y / size)) < 1e-6


def test_mercator_round_trip():
    x, y = density.mercator(-76.61, 39.29)
    assert density.lonlat(x, y) == pytest.approx((-76.61, 39.29))


def test_class_breaks():
    assert density.class_breaks([]) == []
    assert density.class_breaks([5, 5, 5]) == [5]
    breaks = density.class_breaks(list(range(1, 101)))
    assert breaks == [20, 40, 60, 80, 100]


def test_filters_bind_values_and_only_narrow_their_layers():
    f = MapFilters(dt.date(2025, 1, 1), dt.date(2025, 1, 31), districts=("WESTERN",), alert_types=("SINGLE_GUNSHOT",),
                   firearm_types=("PISTOL",), source_states=("VA",), out_of_state_only=True)
    sql, params = where_clause(LAYERS["recoveries"], f)
    assert "VA" not in sql and "PISTOL" not in sql and params["source_states"] == ["VA"]
    assert "alert_type" not in sql and "source_in_state IS FALSE" in sql
    assert params["end"] == dt.date(2025, 2, 1)  # end date inclusive: < the next day
    sql, params = where_clause(LAYERS["alerts"], f, prefix="x_")
    assert "firearm_type" not in sql and params["x_alert_types"] == ["SINGLE_GUNSHOT"]
    assert applies("shootings", f) == ["district"]
    assert f.shifted_years(-1).start == dt.date(2024, 1, 1)
    assert MapFilters(dt.date(2024, 2, 29), dt.date(2024, 2, 29)).shifted_years(-1).start == dt.date(2023, 2, 28)



def test_each_choice_filter_is_described_once_for_points_and_daily_tables():
    """Every MapFilters field beside the dates has one CHOICE_FILTERS row, whose daily column the daily counts
    hold; the daily conditions narrow the same layers with the same values, and tables of one layer (no
    `layer` column) get none."""
    import dataclasses

    from layers import daily
    from layers.map_filters import CHOICE_FILTERS

    fields = {x.name for x in dataclasses.fields(MapFilters)} - {"start", "end"}
    assert [c.field for c in CHOICE_FILTERS] and {c.field for c in CHOICE_FILTERS} == fields
    assert all(c.daily_sql in daily.DIM_COLUMNS for c in CHOICE_FILTERS)
    f = MapFilters(dt.date(2025, 1, 1), dt.date(2025, 1, 31), districts=("WESTERN",), alert_types=("SINGLE_GUNSHOT",),
                   firearm_types=("PISTOL",), ttc_bands=("unknown",), source_states=("VA",), out_of_state_only=True)
    for key in LAYERS:
        points, point_params = where_clause(LAYERS[key], f, prefix="x_")
        rows, row_params = daily.filter_sql(key, f, prefix="x_")
        assert rows.count("= ANY(") == points.count("= ANY(") and rows.count("IS FALSE") == points.count("IS FALSE")
        dates = {"x_start", "x_end", "x_layer"}
        assert sorted(str(v) for k, v in point_params.items() if k not in dates) == \
            sorted(str(v) for k, v in row_params.items() if k not in dates)
        assert rows.startswith("layer = :x_layer AND ") and row_params["x_layer"] == key
        alone, alone_params = daily.filter_sql(key, f, prefix="x_", by_layer=False)
        assert alone == rows.removeprefix("layer = :x_layer AND ") and "x_layer" not in alone_params

def test_no_personal_columns_in_marker_payload_sql():
    for layer in LAYERS.values():
        for word in ("street", "serial", "trace_number", "address", "cc_number", "name"):
            assert word not in layer.map_sql and word not in layer.props_sql
