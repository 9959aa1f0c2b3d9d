"""What the app needs beyond the sources, computed set-based after loads.

- district of every point (from the district map in force on the record's local date: the 1959-2022
  police districts for a 2022 shooting, the 2023 ones for a 2024 one; the reported district when there
  is no point or no map for that date; incidents and alerts get theirs from the load, etl/districts.py, and
  are computed again only when a map was loaded after them);
- traces: dealer, time-to-crime, source state, in/out of city and state, possessor = purchaser;
- recoveries tied to the incident of their case number;
- ShotSpotter alerts matched to the firearm incidents they corroborate;
- NIBIN: evidence tied to incidents and guns, evidence fired by one gun grouped, firearm-incident links;
- a check of the clocks: the share of shootings inside ShotSpotter coverage with a matching alert, and
  the whole-hour offset that would fix it when a file was read with the wrong clock (etl/clock.py).
- the map's daily counts and density cells (layers/daily.py): the days the runs touched, by district, boundary
  and filter values.
Incremental: only rows from the given runs are recomputed, unless boundaries changed, and a step runs only
when a run loaded a source kind it reads. The runs derived are those named plus every run loaded since the
last derive (`derived.derive_state`), so a derive with nothing new to do returns at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import psycopg

from etl import alert_match, case_links, deferred, districts
from etl import index as trafficking_index
from etl.beside import Side, beside
from etl.clock import MATCH_METERS, MATCH_MINUTES, ClockCheck, clock_check
from etl.sources.traces import derived_trace_values
from layers import daily, db, settings
from layers.map_filters import TTC_BAND_SQL


class Derived(dict):
    """derive()'s seconds per step, and the clock check (None when there are no alerts or shootings)."""

    clock_check: ClockCheck | None = None


# The source kinds each step reads: a step runs only when one of them was loaded (or on a full derive).
STEP_INPUTS = ("boundaries", "dealers", "traces", "incidents", "shots", "nibin")
STEP_INPUTS_BY_NAME = {
    "dealer flags": ("dealers", "traces"),
    "trace dealers and time-to-crime": ("dealers", "traces"),
    "recovery markers": ("dealers", "traces"),
    "incident districts": ("incidents", "boundaries"),
    "recovery districts": ("traces", "boundaries"),
    "recovery incidents": ("traces", "incidents"),
    "alert districts": ("shots", "boundaries"),
    "evidence incidents and guns": ("nibin", "incidents", "traces"),
}


def derive(dsn: str | None = None, run_ids: list[int] | None = None, full: bool = False,
           echo: Callable[[str], None] | None = None) -> Derived:
    """Run every derivation; return seconds per step, with the clock check as `.clock_check`."""
    dsn = dsn or db.dsn()
    timings = Derived()
    started = time.perf_counter()
    asked_full = full
    deferred.restore_orphans(dsn, echo)  # indexes a stopped batch of loads set aside (etl/deferred.py)
    with psycopg.connect(dsn) as conn:
        runs, full, latest = _pending(conn, run_ids or [], full)
    if latest is not None and not runs and not full:
        # Nothing loaded since the last derive: every derived value is current.
        timings["nothing to derive"] = time.perf_counter() - started
        if echo:
            echo("  nothing new to derive: every load is already derived")
        return timings
    # Fresh statistics first: right after a bulk load the planner knows nothing of the new rows. Outside
    # the derive's transaction: inside it, each ANALYZE held its table's lock until the derive committed,
    # and autovacuum, which summarizes the block ranges of new rows, waited for it (the whole first derive
    # at 100x). The ranges a load left unsummarized are summarized here for the same reason (_summarize).
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        stale = _stale_tables(conn, runs, full)
        _summarize(conn, sorted({t for tables in LOADED_TABLES.values() for t in tables}))
        for table in stale:
            conn.execute(f"ANALYZE {table}")
    timings["statistics"] = time.perf_counter() - started
    with db.batch_session(psycopg.connect(dsn)) as conn, Side(dsn) as matching, conn.transaction():
        boundaries_changed = full or bool(conn.execute(
            "SELECT 1 FROM etl_run WHERE id = ANY(%s) AND kind = 'boundaries'", (runs,)).fetchone())
        scope = "TRUE" if boundaries_changed else "x.run_id = ANY(%(runs)s) OR x.district IS NULL"
        # Incidents and alerts: the load stores each row's district against the maps loaded before it
        # (etl/districts.py), so only rows loaded before the latest of these runs' maps, rows without a
        # district (not computed: loaded by an earlier version, or written by hand) and rows whose run is
        # gone need it again, unless everything was asked for. After loading 2 million incidents at 10x,
        # computing all of their districts again took 30 s to find nothing to change.
        maps_run = conn.execute("SELECT max(id) FROM etl_run WHERE id = ANY(%s) AND kind = 'boundaries'",
                                (runs,)).fetchone()[0]
        point_scope = ("TRUE" if asked_full else "x.district IS NULL" if not boundaries_changed else
                       "x.district IS NULL OR x.run_id IS NULL OR x.run_id < %(maps_run)s")
        kinds = {r[0] for r in conn.execute("SELECT DISTINCT kind FROM etl_run WHERE id = ANY(%s)", (runs,))}

        def needs(*inputs: str) -> bool:
            """Does a step reading these source kinds have new input? (Unknown kinds: assume so.)"""
            return full or bool(kinds & set(inputs)) or bool(kinds - set(STEP_INPUTS))
        params = {"runs": runs, "state": settings.get("CGA_HOME_STATE"),
                  "county": settings.get("CGA_HOME_COUNTY_FIPS"),
                  "meters": MATCH_METERS, "minutes": MATCH_MINUTES, "maps_run": maps_run or 0}
        districts.create_pieces(conn)
        # Every point's district to find again (a new map, or everything asked for): by the grid when many.
        listed = districts.grid_for(conn, ["incident", "shot_alert", "recovery"]) if boundaries_changed else None
        # Alerts to match: those loaded by the runs, and those near in time to the firearm incidents they loaded.
        lo = hi = None
        alert_scope = "TRUE"
        if not full:
            lo, hi = conn.execute("SELECT min(crime_datetime), max(crime_datetime) FROM incident "
                                  "WHERE run_id = ANY(%s) AND is_firearm", (runs,)).fetchone()
            alert_scope = "(s2.run_id = ANY(%(runs)s)" + (
                " OR s2.alert_time BETWEEN %(inc_lo)s::timestamptz - make_interval(mins => %(minutes)s) "
                "AND %(inc_hi)s::timestamptz + make_interval(mins => %(minutes)s))" if lo else ")")
            params.update({"inc_lo": lo, "inc_hi": hi})
        # The alerts are matched to the firearm incidents they corroborate (etl/alert_match.py) on a second
        # connection, beside the steps below, which neither read nor write what it does once the alerts'
        # districts are stored (the first step: two transactions writing the same alerts could each wait for
        # the other). It commits on its own; the runs are recorded as derived only when every step is done.
        # At 100x it took 53.7 s of a first derive of 235.8 s, with one core idle.
        match_job = None
        if needs("shots", "incidents"):
            # The first and last alert each agency's runs loaded (read once, for the clock check too).
            run_alerts = [] if full else conn.execute(
                "SELECT agency, min(alert_time), max(alert_time) FROM shot_alert WHERE run_id = ANY(%s) "
                "AND alert_time IS NOT NULL GROUP BY agency", (runs,)).fetchall()
            spans = None if full else alert_match.match_spans(conn, run_alerts, lo, hi)
            match_job = functools.partial(alert_match.match, spans=spans, alert_scope=alert_scope,
                                          params=dict(params))
        recovery_cell, recovery_district = (districts.by_cell(listed, date="x.recovery_date") if listed
                                            else ("", districts.in_force("x.recovery_date")))
        # Each trace's source dealer, time-to-crime and source state, by the rules the trace load stores them by.
        derived = derived_trace_values("t2", "d", "r.recovery_date", "t2.purchaser_id", "t2.possessor_id")
        # A step is one statement, or several run in turn.
        steps: list[tuple[str, str | list[str]]] = [
            ("alert districts", districts.update_statements("shot_alert", "alert_time", point_scope, listed)),
            ("dealer flags", """
                UPDATE dealer SET in_city = (premise_state = %(state)s AND lic_cnty = %(county)s)
                WHERE in_city IS DISTINCT FROM (premise_state = %(state)s AND lic_cnty = %(county)s)"""),
            ("trace dealers and time-to-crime", f"""
                UPDATE trace t SET ({", ".join(derived)}) = ({", ".join(f"s.{c}" for c in derived)})
                FROM (SELECT t2.id, {", ".join(f"{sql} AS {c}" for c, sql in derived.items())}
                      FROM trace t2 JOIN recovery r ON r.trace_id = t2.id
                      LEFT JOIN dealer d ON d.ffl_key = t2.dealer_ffl_key) s
                WHERE s.id = t.id
                  -- only the traces whose values change: each derive after a trace or dealer load wrote
                  -- every trace again (125,000 at 10x)
                  AND ({", ".join(f"t.{c}" for c in derived)}) IS DISTINCT FROM
                      ({", ".join(f"s.{c}" for c in derived)})"""),
            # What the map's recovery markers and filters read, copied from the gun and the trace (0011).
            ("recovery markers", f"""
                UPDATE recovery p SET firearm_type = f.firearm_type, ttc_band = {TTC_BAND_SQL},
                    source_state = t.source_state, source_in_state = t.source_in_state
                FROM trace t, firearm f
                WHERE t.id = p.trace_id AND f.id = p.firearm_id
                  AND (p.firearm_type, p.ttc_band, p.source_state, p.source_in_state)
                      IS DISTINCT FROM (f.firearm_type, {TTC_BAND_SQL}, t.source_state, t.source_in_state)"""),
            ("incident districts", districts.update_statements("incident", "crime_datetime", point_scope, listed)),
            # Only recoveries whose district changes are written: rewriting every one of them (and its
            # indexes) took 4.6 s of a full derive at 10x, finding the few that change 1.6 s.
            ("recovery districts", districts.store_moved("recovery", f"""
                SELECT x.id, {recovery_district} AS district, x.district AS stored
                FROM recovery x JOIN trace t ON t.id = x.trace_id {recovery_cell}
                WHERE {scope.replace('x.run_id', 't.run_id')}""")),
            ("recovery incidents", case_links.recovery_incidents(full)),
            ("evidence incidents and guns", case_links.evidence_incidents_and_guns(full)),
        ]
        written: dict[str, int] = {}  # rows each step wrote
        for name, sql in steps:
            if match_job is not None and name != "alert districts":
                matching.start(match_job)
            matching.check()  # its error at once
            if not needs(*STEP_INPUTS_BY_NAME[name]):
                continue
            started = time.perf_counter()
            written[name] = 0
            for statement in [sql] if isinstance(sql, str) else sql:
                written[name] += max(conn.execute(statement, params).rowcount, 0)
            timings[name] = time.perf_counter() - started
            if echo:
                echo(f"  derived {name} ({timings[name]:.1f}s)")
        # Gun groups come from the NIBIN leads alone, and the guns' scenes from the incidents of recoveries and
        # of evidence: after runs loading neither leads nor traces, they change only when the steps above moved
        # such an incident (at 100x, 19.7 s of the derive after 200 more incidents, which moved none).
        links_moved = written.get("recovery incidents", 0) + written.get("evidence incidents and guns", 0)
        if needs("nibin", "traces") or (needs("incidents") and links_moved):
            started = time.perf_counter()
            case_links.nibin_groups(conn)
            timings["NIBIN gun groups and firearm links"] = time.perf_counter() - started
            if echo:
                echo(f"  derived NIBIN gun groups and firearm links ({timings['NIBIN gun groups and firearm links']:.1f}s)")
        if needs("shots", "incidents"):
            started = time.perf_counter()
            period = None if full else _period(run_alerts, lo, hi)
            if full or period is not None:
                timings.clock_check = clock_check(conn, period)
            timings["clock check"] = time.perf_counter() - started
        if match_job is not None:
            started = time.perf_counter()
            timings.update(matching.join())
            timings["waiting for the alert matching"] = time.perf_counter() - started
            if echo:
                echo(f"  derived alerts corroborating incidents ({timings['alerts corroborating incidents']:.1f}s, "
                     "beside the steps above)")
    if stale:  # what the steps above wrote too, after a load big enough to move it (small ones: autovacuum)
        with psycopg.connect(dsn, autocommit=True) as conn:
            _analyse(conn, derived=False)  # the derived tables once the daily counts have written them
    # The map's daily counts and the trafficking index read what the steps above committed and write tables
    # of their own: computed side by side on the two cores (at 100x, 83 s and 64 s of a 278 s first derive,
    # one after the other).
    if latest is None:
        timings.update(trafficking_index.refresh(dsn, runs, full, echo))
    else:
        with db.batch_session(psycopg.connect(dsn)) as conn, db.batch_session(psycopg.connect(dsn)) as index_conn:
            timings.update(beside(lambda: _daily_counts(conn, runs, boundaries_changed, bool(stale), echo),
                                   lambda: trafficking_index.refresh(dsn, runs, full, echo, conn=index_conn),
                                   conn, index_conn))
    # The map's pre-counted cells answer low-zoom views; stale ones would be ignored (and slow). They are
    # recounted by day with the daily counts above; here they are marked as holding the current data version.
    started = time.perf_counter()
    from layers.density import refresh_map_cells

    refresh_map_cells(db.engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1)),
                      cells=latest is None)
    timings["map cells"] = time.perf_counter() - started
    if echo:
        echo(f"  marked the map cells current ({timings['map cells']:.1f}s)")
    # Only now, with every step done, are the runs recorded as derived: a derive that stops before (an error
    # in the index after the daily counts committed, Ctrl-C, a crash) leaves them for the next one, which
    # derives them again. Until then the map reads the tables themselves instead of the daily counts.
    if latest is not None:
        with psycopg.connect(dsn) as conn, conn.transaction():
            daily.mark_current(conn, *latest)
    return timings


def _daily_counts(conn: psycopg.Connection, runs: list[int], boundaries_changed: bool, analyse: bool,
                  echo: Callable[[str], None] | None) -> dict[str, float]:
    """The map's counts by day, district and boundary for the days these runs touched, in one transaction;
    then (`analyse`) their statistics."""
    started = time.perf_counter()
    with conn.transaction():
        daily.refresh(conn, runs, boundaries_changed, echo)
    if analyse:
        _analyse(conn, derived=True)
    return {"daily counts": time.perf_counter() - started}


def _analyse(conn: psycopg.Connection, derived: bool) -> None:
    """ANALYZE the database's own tables: those of the `derived` schema, or all the others."""
    for (table,) in conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'"
            " AND (n.nspname = 'derived') = %s ORDER BY 1", (derived,)).fetchall():
        conn.execute(f"ANALYZE {table}")


# The tables each source kind's loads write (etl/batch.py orders loads by them too); a table whose rows a load changed by more than STALE_SHARE of
# what its statistics counted is analysed before the derive plans on it (autovacuum's own threshold).
LOADED_TABLES = {"incidents": ("incident",), "shots": ("shot_alert",), "dealers": ("dealer",),
                 "traces": ("trace", "recovery", "firearm", "pii.person", "dealer"),
                 "nibin": ("ballistic_evidence", "nibin_lead"), "boundaries": ("boundary",)}
STALE_SHARE = 0.1


def _summarize(conn: psycopg.Connection, tables: list[str]) -> None:
    """Summarize the block ranges of `tables`' block-range indexes that no summary covers yet: those of the
    run lookups (migration 0016) the derive reads next. Each new range asks autovacuum to summarize it, but
    the server records only so many requests: a 100x build lost about 900 of them, and an unsummarized range
    is read whole by every lookup. A table whose lock autovacuum holds is left to it."""
    indexes = conn.execute(
        "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'brin' AND i.indrelid = ANY(%s::regclass[])"
        " ORDER BY 1", (tables,)).fetchall()
    for (index,) in indexes:
        try:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '1s'")
                conn.execute("SELECT brin_summarize_new_values(%s::regclass)", (index,))
        except psycopg.errors.LockNotAvailable:
            continue


def _stale_tables(conn: psycopg.Connection, runs: list[int], full: bool) -> list[str]:
    """The tables to analyse: all of them on a full derive or after a load of an unknown kind; else those a
    run loaded or updated more rows of than STALE_SHARE of their counted rows (never counted: any). The
    derive after a day's export then reads no samples of tables it barely changed (autovacuum keeps them)."""
    every = sorted({t for tables in LOADED_TABLES.values() for t in tables})
    changed = conn.execute("SELECT kind, sum(rows_loaded + rows_updated) FROM etl_run WHERE id = ANY(%s) "
                           "GROUP BY kind", (runs,)).fetchall()
    if full or any(kind not in LOADED_TABLES for kind, _ in changed):
        return every
    counted = dict(conn.execute("SELECT oid::regclass::text, reltuples FROM pg_class WHERE oid = ANY(%s::regclass[])",
                                (every,)).fetchall())
    stale = {t for kind, n in changed for t in LOADED_TABLES[kind]
             if counted.get(t, -1) < 0 or n > STALE_SHARE * counted[t]}
    return sorted(stale)


def _period(run_alerts: list[tuple], lo, hi) -> tuple | None:
    """First and last time of the alerts the runs loaded (`run_alerts`: agency, first, last) and of their
    firearm incidents (`lo`, `hi`), both read for the alert matching; None when they loaded neither (the
    clock check then judges nothing)."""
    times = [t for t in (lo, hi, *(t for _, first, last in run_alerts for t in (first, last))) if t is not None]
    return (min(times), max(times)) if times else None


def _pending(conn: psycopg.Connection, run_ids: list[int], full: bool) -> tuple[list[int], bool, tuple | None]:
    """The runs to derive: those named and every succeeded run loaded since the last derive; whether to
    recompute everything (asked, or the runs table no longer holds the run the last derive recorded:
    emptied and reloaded); and (id, token) of the latest succeeded run, which the derive will record as
    held (None on a database without the derive state of migration 0008: named runs only, as before)."""
    held = daily.state(conn)
    if held is None:
        return run_ids, full, None
    held_id, held_token = held
    latest = daily.current_token(conn)
    if held_token is not None:
        row = conn.execute("SELECT id::text || ':' || xmin::text FROM etl_run WHERE id = %s", (held_id,)).fetchone()
        if row is None or row[0] != held_token:
            full = True
    elif latest[1] is not None:
        full = True  # never derived since the upgrade
    new = [r[0] for r in conn.execute(
        "SELECT id FROM etl_run WHERE status = 'succeeded' AND id > %s ORDER BY id", (held_id if not full else 0,))]
    return sorted(set(run_ids) | set(new)), full, latest
