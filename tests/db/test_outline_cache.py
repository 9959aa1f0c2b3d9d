"""Map outlines are simplified once per process and boundary version, not at every request."""

from __future__ import annotations

from layers import districts

SQUARE = "ST_Multi(ST_GeomFromText('POLYGON((-76.65 39.28,-76.60 39.28,-76.60 39.31,-76.65 39.31,-76.65 39.28))', 4326))"


def test_outlines_follow_boundary_changes_and_callers_get_their_own_copy(empty_db, sql):
    sql(f"INSERT INTO boundary (kind, name, approximate, geom) VALUES ('district', 'CENTRAL', false, {SQUARE}) RETURNING id")
    first = districts.boundaries_geojson("district")
    assert [f["properties"]["name"] for f in first["features"]] == ["CENTRAL"]
    first["features"][0]["properties"]["name"] = "changed by a caller"
    again = districts.boundaries_geojson("district")
    assert again["features"][0]["properties"]["name"] == "CENTRAL", "a caller's change must not reach the next"

    sql("UPDATE boundary SET name = 'CENTRAL DISTRICT' WHERE kind = 'district' RETURNING id")
    assert [f["properties"]["name"] for f in districts.boundaries_geojson("district")["features"]] == \
        ["CENTRAL DISTRICT"]
    sql(f"INSERT INTO boundary (kind, name, approximate, geom) VALUES ('district', 'WESTERN', false, {SQUARE}) RETURNING id")
    assert len(districts.boundaries_geojson("district")["features"]) == 2
    sql("DELETE FROM boundary WHERE name = 'WESTERN' RETURNING id")
    assert len(districts.boundaries_geojson("district")["features"]) == 1


def test_a_new_worker_warms_its_caches_and_never_fails(synthetic_db):
    """dashboard.wsgi warms each worker: afterwards the map's opening outlines come from the cache; with the
    database unreachable, warming reports it and returns instead of raising."""
    import dash
    import pytest

    from dashboard.app import create_app, warm
    from layers import db

    create_app()  # as dashboard.wsgi does before warming: the pages registered
    home = next(p for p in dash.page_registry.values() if p["path"] == "/")
    rendered = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(home, "layout", lambda real=home["layout"]: rendered.append(real()) or rendered[-1])
        districts._OUTLINES.clear()
        assert warm() is True
    assert districts._OUTLINES, "the opening view's outlines are cached"
    assert len(rendered) == 1 and "map-status" in str(rendered[0]), "the map page is rendered once"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
        db.reset_engines()
        assert warm() is False
    db.reset_engines()
