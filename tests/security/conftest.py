"""Security tests: the real app in-process (Flask test client) on a copy of the session's synthetic
Baltimore, seeded with personal data that string search cannot miss."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import drop_database, query_runner

PASSWORD = "security-test-password"
PURPOSE = "security test 24-000077"

# One person, one gun, one trace, one recovery, one incident, one alert, one dealer and one rejected row,
# each carrying values that appear nowhere else: a leak of any of them is found by string search.
SEED = {
    "last_name": "ZZLEAKSURNAME",
    "first_name": "ZZLEAKGIVEN",
    "dob": "1911-11-11",
    "street": "77 ZZLEAK STREET",
    "serial": "ZZLEAKSERIAL77",
    "trace": "ZZLEAKTRACE77",
    "case": "ZZLEAKCASE77",
    "cc": "ZZLEAKCC77",
    "license_name": "ZZLEAKLICENSEE, INDIVIDUAL",
    "premise_street": "78 ZZLEAK AVENUE",
    "raw": "ZZLEAKRAW,ZZLEAKSURNAME,1911-11-11,77 ZZLEAK STREET",
    "reason": "possessor_dob 'ZZLEAKRAW' is not a date",
    "recovery_point": (-76.6123457, 39.2987654),
    "incident_point": (-76.6134567, 39.2976543),
    "alert_point": (-76.6145678, 39.2965432),
    "dealer_point": (-76.7012345, 39.4012345),
}


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _clone(template_url: str, name: str) -> str:
    """A copy of the template database (CREATE DATABASE ... TEMPLATE: seconds, not a reload)."""
    import psycopg

    from layers import cluster, db

    template = template_url.rsplit("/", 1)[1]
    cluster.drop_database(name)
    db.reset_engines()
    admin = _dsn(cluster.url("postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        for _ in range(2):
            # Idle pooled connections of this test process keep the template busy; they reconnect (pre-ping).
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                         "AND pid <> pg_backend_pid()", (template,))
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                break
            except psycopg.errors.ObjectInUse:
                continue
        else:
            raise RuntimeError(f"could not copy {template}: still in use")
    return cluster.url(name)


def _seed(url: str) -> dict:
    """Insert the seeded records as the database owner; returns their ids."""
    from sqlalchemy import text

    from etl.errors import public_reason
    from layers import db, settings

    agency = settings.get("CGA_AGENCY")
    s = SEED
    ids: dict = {}
    with db.engine(url).begin() as conn:
        q = lambda sql, **p: conn.execute(text(sql), p).scalar()  # noqa: E731
        ids["run"] = q("INSERT INTO etl_run (status, kind, layout, file_path, finished_at, rows_read, rows_loaded, "
                       "rows_updated, rows_duplicate, rows_rejected) VALUES ('succeeded', 'traces', 'canonical', "
                       "'zz_seed.csv', now(), 2, 1, 0, 0, 1) "
                       "RETURNING id")
        ids["person"] = q("INSERT INTO pii.person (agency, person_key, last_name, first_name, dob, sex, street, city, "
                          "state, zip, run_id) VALUES (:a, 'ZZLEAKKEY', :ln, :fn, :dob, 'M', :st, 'BALTIMORE', 'MD', "
                          "'21201', :run) RETURNING id", a=agency, ln=s["last_name"], fn=s["first_name"],
                          dob=s["dob"], st=s["street"], run=ids["run"])
        lon, lat = s["dealer_point"]
        ids["dealer"] = q("INSERT INTO dealer (ffl_key, license_number, lic_regn, lic_dist, lic_cnty, lic_type, "
                          "lic_seqn, license_name, business_name, premise_street, premise_city, premise_state, "
                          "premise_zip, source, geocode_precision, in_city, run_id, geom) VALUES ('9-52-077-01-9Z777', "
                          "'952077019Z777', '9', '52', '077', '01', '9Z777', :ln, NULL, :ps, 'TOWSON', 'MD', '21204', "
                          "'ffl_list', 'given', false, :run, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id",
                          ln=s["license_name"], ps=s["premise_street"], run=ids["run"], lon=lon, lat=lat)
        ids["firearm"] = q("INSERT INTO firearm (agency, firearm_key, serial_number, serial_obliterated, "
                           "manufacturer, model, caliber, firearm_type, run_id) VALUES (:a, 'ZZLEAKFIREARMKEY', :sn, "
                           "false, 'GLOCK', '19', '9MM', 'PISTOL', "
                           ":run) RETURNING id", a=agency, sn=s["serial"], run=ids["run"])
        ids["trace"] = q("INSERT INTO trace (agency, trace_number, request_date, case_number, trace_status, firearm_id, "
                         "purchaser_id, possessor_id, purchase_date, dealer_ffl_key, dealer_name, dealer_street, "
                         "dealer_city, dealer_state, run_id, dealer_id, ttc_days, source_state, source_in_city, "
                         "source_in_state, possessor_is_purchaser) VALUES (:a, :tn, '2025-03-01', :cn, 'COMPLETED', "
                         ":f, :p, :p, '2024-12-01', '9-52-077-01-9Z777', :ln, :ps, 'TOWSON', 'MD', :run, :d, 90, "
                         "'MD', false, true, true) RETURNING id", a=agency, tn=s["trace"], cn=s["case"],
                         f=ids["firearm"], p=ids["person"], ln=s["license_name"], ps=s["premise_street"],
                         run=ids["run"], d=ids["dealer"])
        lon, lat = s["incident_point"]
        ids["incident"] = q("INSERT INTO incident (agency, source_key, cc_number, crime_datetime, crime_code, "
                            "description, inside_outside, weapon, is_firearm, category, post, reported_district, "
                            "neighborhood, location, total_incidents, source_layout, run_id, geom, district) VALUES "
                            "(:a, 'ZZLEAKSRC', :cc, '2025-02-27 22:15+00', '9S', 'SHOOTING', 'O', 'FIREARM', true, "
                            "'shooting', '111', 'CENTRAL', 'DOWNTOWN', :loc, 1, 'open_baltimore_2022', :run, "
                            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), (SELECT name FROM boundary WHERE kind = "
                            "'district' ORDER BY ST_Distance(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
                            "LIMIT 1)) RETURNING id", a=agency, cc=s["cc"], loc=s["street"], run=ids["run"],
                            lon=lon, lat=lat)
        lon, lat = s["recovery_point"]
        ids["recovery"] = q("INSERT INTO recovery (agency, trace_id, firearm_id, possessor_id, case_number, "
                            "recovery_date, street, city, state, zip, geocode_precision, geom, district, incident_id) "
                            "VALUES (:a, :t, :f, :p, :cn, '2025-02-28', :st, 'BALTIMORE', 'MD', '21201', 'given', "
                            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), (SELECT district FROM incident WHERE id = :i), "
                            ":i) RETURNING id", a=agency, t=ids["trace"], f=ids["firearm"], p=ids["person"],
                            cn=s["case"], st=s["street"], lon=lon, lat=lat, i=ids["incident"])
        lon, lat = s["alert_point"]
        ids["alert"] = q("INSERT INTO shot_alert (agency, source_key, source_id, alert_time, alert_type, rounds, "
                         "address, reported_district, source_layout, run_id, geom, district, incident_id) VALUES "
                         "(:a, 'ZZLEAKALERT', 'ZZA77', '2025-02-27 22:14+00', 'MULTIPLE_GUNSHOTS', 4, "
                         "'100 BLOCK W ZZALERT ST', 'CENTRAL', 'chicago', :run, ST_SetSRID(ST_MakePoint(:lon, :lat), "
                         "4326), (SELECT district FROM incident WHERE id = :i), :i) RETURNING id", a=agency,
                         run=ids["run"], lon=lon, lat=lat, i=ids["incident"])
        conn.execute(text("INSERT INTO firearm_incident (firearm_id, incident_id, via) VALUES (:f, :i, 'recovery')"),
                     {"f": ids["firearm"], "i": ids["incident"]})
        conn.execute(text("INSERT INTO etl_rejected_row (run_id, file_path, line_number, raw, reason, reason_public) "
                          "VALUES (:run, 'zz_seed.csv', 2, :raw, :reason, :public)"),
                     {"run": ids["run"], "raw": s["raw"], "reason": s["reason"], "public": public_reason(s["reason"])})
    return ids


@pytest.fixture(scope="module")
def leak_url(synthetic_url):
    """A copy of the synthetic database with the seeded records; the project points at it for the module."""
    from layers import db

    url = _clone(synthetic_url, f"cga_test_{os.getpid()}_leak")
    mp = pytest.MonkeyPatch()
    mp.setenv("DATABASE_URL", _dsn(url))
    mp.setenv("CGA_MFA_REQUIRED", "none")
    db.reset_engines()
    try:
        yield url
    finally:
        db.reset_engines()
        mp.undo()
        db.reset_engines()
        drop_database(url)


@pytest.fixture(scope="module")
def seeded(leak_url) -> dict:
    """The seeded records, derived like a load's rows: the daily counts then hold them, so the map, panel and
    chart callbacks answer from the derived tables (which keep places, dealers and states) as in production."""
    from etl.derive import derive
    from layers import daily, db

    ids = _seed(leak_url)
    derive(dsn=_dsn(leak_url), run_ids=[ids["run"]])
    with db.read_engine().connect() as conn:
        assert daily.usable(conn), "the leak test must read the derived tables"
    return ids


@pytest.fixture(scope="module")
def leak_sql(leak_url):
    return query_runner(leak_url)


@pytest.fixture(scope="module")
def leak_app(seeded):
    from dashboard.app import create_app

    app = create_app()
    app.server.test_client().get("/login")  # the first request registers every Dash route and callback
    return app


def ensure_account(role: str) -> str:
    from tests.browser.conftest import ensure_account as ensure

    return ensure(role, f"sec-{role}", PASSWORD)


def form_token(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field in the form"
    return m.group(1)


def csrf_cookie(client) -> str:
    cookie = client.get_cookie("_csrf_token")
    return cookie.value if cookie else ""


def sign_in(app, role: str | None):
    """A test client signed in through the real sign-in form (and purpose form for records roles);
    role None: a client that never signed in."""
    client = app.server.test_client()
    if role is None:
        return client
    user = ensure_account(role)
    page = client.get("/login")
    res = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": form_token(page.text),
                                      "next": "/"})
    assert res.status_code == 302 and "/login" not in res.headers["Location"], (role, res.status_code, res.text[:300])
    if role in ("detective", "analyst", "admin"):
        page = client.get("/purpose")
        res = client.post("/purpose", data={"purpose": PURPOSE, "csrf_token": form_token(page.text), "next": "/"})
        assert res.status_code == 302, res.text[:300]
    return client


@pytest.fixture(scope="module")
def clients(leak_app):
    return {role: sign_in(leak_app, role) for role in (None, "press", "commander", "detective")}
