"""The canonical eTrace CSV (docs/formats.md §1): one row per trace -> firearm, people, trace, recovery."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from etl import districts
from etl.errors import RowError
from etl.geocode import zip_centroid
from etl.parse import (
    blank,
    normalize_zip,
    parse_date,
    parse_ffl,
    parse_point,
    parse_yes_no,
    point_wkt,
    upper,
)
from etl.sources.base import Layout, LoadContext, Source, schema_widths, upsert
from layers import settings
from layers.map_filters import TTC_BAND_SQL

# Trace outcomes (docs/formats.md §1), after ATF's trace-result categories (domain.md §2.1).
STATUSES = ("COMPLETED", "DEALER_ONLY", "NO_RECORD", "OUT_OF_BUSINESS", "PRE_1968", "TOO_OLD", "SERIAL_PROBLEM",
            "STOLEN", "PRIVATELY_MADE", "FORM_ERROR", "PENDING")
# Spellings seen in exports for the same outcomes (after upper-casing, spaces and dashes as _).
STATUS_ALIASES = {
    "TRACED": "COMPLETED", "COMPLETED_TO_PURCHASER": "COMPLETED", "NO_DEALER_RECORD": "NO_RECORD",
    "NO_FFL_RECORD": "NO_RECORD", "FFL_OUT_OF_BUSINESS": "OUT_OF_BUSINESS", "OOB": "OUT_OF_BUSINESS",
    "PRE_GCA": "PRE_1968", "OBLITERATED": "SERIAL_PROBLEM", "OBLITERATED_SERIAL": "SERIAL_PROBLEM",
    "STOLEN_FROM_FFL": "STOLEN", "FFL_THEFT": "STOLEN", "GHOST_GUN": "PRIVATELY_MADE", "PMF": "PRIVATELY_MADE",
}
# Who reported the gun stolen: a licensee (theft from or loss of its inventory, ATF F 3310.11) or a
# private owner (a police theft report).
STOLEN_FROM = {"FFL": "FFL", "DEALER": "FFL", "FFL_THEFT": "FFL", "FFL_LOSS": "FFL", "FFL_THEFT_LOSS": "FFL",
               "DEALER_THEFT": "FFL", "PRIVATE": "PRIVATE", "OWNER": "PRIVATE", "PRIVATE_OWNER": "PRIVATE",
               "INDIVIDUAL": "PRIVATE"}
FIREARM_TYPES = ("PISTOL", "REVOLVER", "RIFLE", "SHOTGUN", "DERRINGER", "MACHINE GUN", "OTHER")
ROLES = ("purchaser", "possessor", "associate")
PERSON_FIELDS = ("last_name", "first_name", "dob", "sex", "race", "street", "city", "state", "zip")

TRACE_COLUMNS = ("agency", "trace_number", "request_date", "priority", "ncic_crime_code", "requesting_ori",
                 "case_number", "trace_status", "purchase_date", "multiple_sale", "dealer_ffl_key",
                 "dealer_license_number", "dealer_name", "dealer_street", "dealer_city", "dealer_state",
                 "dealer_zip", "reported_stolen", "stolen_from", "stolen_report_date")
FIREARM_COLUMNS = ("firearm_key", "serial_number", "serial_obliterated", "serial_restored", "manufacturer", "model",
                   "caliber", "firearm_type", "country_of_origin", "importer")
# Worked out from the file's values and the dealer list, stored with each trace (never compared: the
# derive keeps them current when the dealer list changes).
DERIVED_TRACE_COLUMNS = ("dealer_id", "ttc_days", "source_state", "source_in_state", "source_in_city",
                         "possessor_is_purchaser")
# Optional columns (docs/formats.md §1): files without them load as before, with these null.
SIGNAL_COLUMNS = ("reported_stolen", "stolen_from", "stolen_report_date", "restored_serial")
RECOVERY_COLUMNS = ("recovery_date", "recovery_street", "recovery_city", "recovery_state", "recovery_zip",
                    "recovery_precision", "recovery_geom")


def derived_trace_values(trace: str, dealer: str, recovery_date: str, purchaser_id: str, possessor_id: str
                         ) -> dict[str, str]:
    """SQL for each of DERIVED_TRACE_COLUMNS over a trace row (`trace`: its dealer_state and purchase_date),
    its source dealer (`dealer`, by licence) and its recovery date: the rules the trace load stores them by
    and the derive keeps them by (etl/derive.py), written once. Parameters %(state)s and %(county)s are
    the home state and county."""
    state = f"coalesce({dealer}.premise_state, {trace}.dealer_state)"
    return {
        "dealer_id": f"{dealer}.id",
        "ttc_days": f"{recovery_date} - {trace}.purchase_date",
        "source_state": state,
        "source_in_state": f"{state} = %(state)s",
        "source_in_city": f"({dealer}.premise_state = %(state)s AND {dealer}.lic_cnty = %(county)s)",
        "possessor_is_purchaser": f"CASE WHEN {possessor_id} IS NOT NULL AND {purchaser_id} IS NOT NULL "
                                  f"THEN {possessor_id} = {purchaser_id} END",
    }


def _staging() -> tuple[tuple[str, str], ...]:
    cols: list[tuple[str, str]] = []
    types = {"request_date": "date", "purchase_date": "date", "recovery_date": "date",
             "multiple_sale": "boolean", "serial_obliterated": "boolean", "serial_restored": "boolean",
             "reported_stolen": "boolean", "stolen_report_date": "date",
             "recovery_geom": "geometry(Point,4326)", "dealer_geom": "geometry(Point,4326)"}
    for c in TRACE_COLUMNS + FIREARM_COLUMNS + RECOVERY_COLUMNS + ("dealer_geom", "dealer_precision"):
        cols.append((c, types.get(c, "text")))
    for role in ROLES:
        cols.append((f"{role}_key", "text"))
        for f in PERSON_FIELDS:
            cols.append((f"{role}_{f}", "date" if f == "dob" else "text"))
    return tuple(cols)


def person_key(last: str, first: str | None, dob) -> str:
    text = f"{last}|{first or ''}|{dob or ''}"
    return hashlib.md5(text.encode()).hexdigest()


def firearm_key(manufacturer: str | None, serial: str | None, obliterated: bool, trace_number: str) -> str:
    if obliterated or not serial:
        return f"TRACE:{trace_number}"
    return f"{re.sub(r'[^A-Z0-9]', '', (manufacturer or '').upper())}|{re.sub(r'[^A-Z0-9]', '', serial.upper())}"


class Traces(Source):
    kind = "traces"
    layouts = (
        Layout("etrace-canonical", frozenset({"trace_number", "request_date", "trace_status", "recovery_date"}),
               frozenset(c for c, _ in _staging()) | {"serial_number", "dealer_ffl", "recovery_latitude",
                                                      "recovery_longitude", "manufacturer"} | set(SIGNAL_COLUMNS),
               "Crime Gun Atlas canonical eTrace CSV"),
    )
    staging = _staging()
    key = ("agency", "trace_number")
    # The traces, then the tables filled from the same rows (one recovery per trace, a gun and people for
    # most): 9, 10, 3 and 2 secondary indexes, four of them trigram indexes.
    bulk_tables = ("trace", "recovery", "firearm", "pii.person")

    def widths(self) -> dict[str, int]:
        widths = schema_widths("trace", TRACE_COLUMNS)
        widths.update(schema_widths("firearm", FIREARM_COLUMNS))
        widths.update(schema_widths("recovery", RECOVERY_COLUMNS, {
            "recovery_state": "state", "recovery_zip": "zip", "recovery_precision": "geocode_precision"}))
        widths.update(schema_widths("dealer", ("dealer_precision",), {"dealer_precision": "geocode_precision"}))
        for role in ROLES:
            widths.update(schema_widths("pii.person", [f"{role}_{f}" for f in PERSON_FIELDS],
                                        {f"{role}_{f}": f for f in PERSON_FIELDS}))
        return widths

    def parse(self, rec: dict[str, str], ctx: LoadContext) -> dict:
        trace_number = upper(rec.get("trace_number"))
        if not trace_number:
            raise RowError("trace_number is missing")
        status = upper(rec.get("trace_status"))
        if status:
            status = status.replace(" ", "_").replace("-", "_")
            status = STATUS_ALIASES.get(status, status)
        if status not in STATUSES:
            raise RowError(f"trace_status {rec.get('trace_status')!r} is not one of {', '.join(STATUSES)}")
        request_date = parse_date(rec.get("request_date"), "request_date", required=True)
        recovery_date = parse_date(rec.get("recovery_date"), "recovery_date", required=True)
        purchase_date = parse_date(rec.get("purchase_date"), "purchase_date")
        if purchase_date and purchase_date > recovery_date:
            raise RowError(f"purchase_date {purchase_date} is after recovery_date {recovery_date}")
        obliterated_flag = parse_yes_no(rec.get("serial_obliterated"), "serial_obliterated")
        restored = upper(rec.get("restored_serial"))
        if restored and obliterated_flag is False:
            raise RowError(f"restored_serial {restored!r} is given but serial_obliterated is N: only an "
                           "obliterated serial is restored")
        obliterated = bool(obliterated_flag) or bool(restored)
        # The serial as read is dropped when the serial was obliterated; a restored one is the gun's serial.
        serial = restored or (None if obliterated else upper(rec.get("serial_number")))
        stolen = self._stolen(rec, status, purchase_date)
        manufacturer = upper(rec.get("manufacturer"))
        firearm_type = upper(rec.get("firearm_type"))
        if firearm_type and firearm_type not in FIREARM_TYPES:
            firearm_type = "OTHER"
        ori = upper(rec.get("requesting_ori"))
        ffl = parse_ffl(rec.get("dealer_ffl"), "dealer_ffl")
        dealer_zip = normalize_zip(rec.get("dealer_zip"), "dealer_zip")
        dealer_point = zip_centroid(dealer_zip) if ffl else None
        rec_zip = normalize_zip(rec.get("recovery_zip"), "recovery_zip")
        rec_point = parse_point(rec.get("recovery_longitude"), rec.get("recovery_latitude"),
                                "recovery_longitude/recovery_latitude", ctx.region)
        precision = "given"
        if rec_point is None:
            rec_point = zip_centroid(rec_zip)
            precision = "zip" if rec_point else "none"
        row = {
            "agency": ori or ctx.agency,
            "trace_number": trace_number,
            "request_date": request_date,
            "priority": upper(rec.get("priority")),
            "ncic_crime_code": blank(rec.get("ncic_crime_code")),
            "requesting_ori": ori,
            "case_number": upper(rec.get("case_number")),
            "trace_status": status,
            "purchase_date": purchase_date,
            "multiple_sale": parse_yes_no(rec.get("multiple_sale"), "multiple_sale"),
            "dealer_ffl_key": ffl[0] if ffl else None,
            "dealer_license_number": upper(rec.get("dealer_ffl")),
            "dealer_name": upper(rec.get("dealer_name")),
            "dealer_street": upper(rec.get("dealer_street")),
            "dealer_city": upper(rec.get("dealer_city")),
            "dealer_state": upper(rec.get("dealer_state")),
            "dealer_zip": dealer_zip,
            "dealer_geom": point_wkt(dealer_point),
            "dealer_precision": "zip" if dealer_point else "none",
            **stolen,
            "firearm_key": firearm_key(manufacturer, serial, obliterated and not restored, trace_number),
            "serial_number": serial,
            "serial_obliterated": obliterated,
            "serial_restored": True if restored else None,
            "manufacturer": manufacturer,
            "model": upper(rec.get("model")),
            "caliber": upper(rec.get("caliber")),
            "firearm_type": firearm_type,
            "country_of_origin": upper(rec.get("country_of_origin")),
            "importer": upper(rec.get("importer")),
            "recovery_date": recovery_date,
            "recovery_street": upper(rec.get("recovery_street")),
            "recovery_city": upper(rec.get("recovery_city")),
            "recovery_state": upper(rec.get("recovery_state")),
            "recovery_zip": rec_zip,
            "recovery_precision": precision,
            "recovery_geom": point_wkt(rec_point),
        }
        for role in ROLES:
            last = upper(rec.get(f"{role}_last_name"))
            first = upper(rec.get(f"{role}_first_name"))
            dob = parse_date(rec.get(f"{role}_dob"), f"{role}_dob", not_after=dt.date.today())
            event, event_name = ((purchase_date, "purchase_date") if role == "purchaser"
                                 else (recovery_date, "recovery_date"))
            if dob and event and dob > event:
                raise RowError(f"{role}_dob {dob} is after {event_name} {event}")
            row[f"{role}_key"] = person_key(last, first, dob) if last else None
            values = {"last_name": last, "first_name": first, "dob": dob,
                      "sex": upper(rec.get(f"{role}_sex")), "race": upper(rec.get(f"{role}_race")),
                      "street": upper(rec.get(f"{role}_street")), "city": upper(rec.get(f"{role}_city")),
                      "state": upper(rec.get(f"{role}_state")),
                      "zip": normalize_zip(rec.get(f"{role}_zip"), f"{role}_zip") if last else None}
            for f in PERSON_FIELDS:
                row[f"{role}_{f}"] = values[f] if last else None
        return row

    @staticmethod
    def _stolen(rec: dict[str, str], status: str, purchase_date) -> dict:
        """reported_stolen / stolen_from / stolen_report_date: null when the file does not say."""
        flag = parse_yes_no(rec.get("reported_stolen"), "reported_stolen")
        raw_from = upper(rec.get("stolen_from"))
        stolen_from = None
        if raw_from:
            stolen_from = STOLEN_FROM.get(raw_from.replace(" ", "_").replace("-", "_").replace("/", "_"))
            if stolen_from is None:
                raise RowError(f"stolen_from {rec.get('stolen_from')!r} is not FFL (dealer theft or loss) or "
                               "PRIVATE (a private owner)")
        reported = parse_date(rec.get("stolen_report_date"), "stolen_report_date")
        if flag is False and (stolen_from or reported):
            raise RowError("reported_stolen is N but stolen_from or stolen_report_date is given")
        if status == "STOLEN":  # the trace ended at a licensee's theft or loss report
            if flag is False or stolen_from == "PRIVATE":
                raise RowError("trace_status STOLEN (a licensee's theft or loss) contradicts "
                               f"reported_stolen {rec.get('reported_stolen')!r} / stolen_from {rec.get('stolen_from')!r}")
            stolen_from = "FFL"
        if (stolen_from or reported) and flag is None:
            flag = True
        if reported and stolen_from == "PRIVATE" and purchase_date and reported < purchase_date:
            raise RowError(f"stolen_report_date {reported} is before purchase_date {purchase_date}: a private "
                           "owner cannot report a gun stolen before buying it")
        return {"reported_stolen": flag, "stolen_from": stolen_from, "stolen_report_date": reported}

    def merge(self, cur, run_id: int) -> tuple[int, int]:
        people = " UNION ALL ".join(
            f"SELECT agency, {role}_key AS person_key, "
            + ", ".join(f"{role}_{f} AS {f}" for f in PERSON_FIELDS)
            + f", line_number FROM stg_u WHERE {role}_key IS NOT NULL"
            for role in ROLES)
        cur.execute(f"""CREATE TEMP TABLE stg_person ON COMMIT DROP AS
            SELECT DISTINCT ON (agency, person_key) * FROM ({people}) p
            ORDER BY agency, person_key, line_number DESC""")
        upsert(cur, "pii.person", ("agency", "person_key") + PERSON_FIELDS, ("agency", "person_key"),
               run_id, source="stg_person")
        cur.execute(f"""CREATE TEMP TABLE stg_firearm ON COMMIT DROP AS
            SELECT DISTINCT ON (agency, firearm_key) agency, {", ".join(FIREARM_COLUMNS)}
            FROM stg_u ORDER BY agency, firearm_key, line_number DESC""")
        upsert(cur, "firearm", ("agency",) + FIREARM_COLUMNS, ("agency", "firearm_key"), run_id,
               source="stg_firearm")
        # Dealers first seen on a trace: known by license, located by ZIP until the FFL list loads.
        cur.execute("""
            INSERT INTO dealer (ffl_key, license_number, lic_regn, lic_dist, lic_cnty, lic_type, lic_seqn,
                                business_name, premise_street, premise_city, premise_state, premise_zip,
                                source, geocode_precision, geom, run_id)
            SELECT DISTINCT ON (dealer_ffl_key) dealer_ffl_key, dealer_license_number,
                   split_part(dealer_ffl_key, '-', 1), split_part(dealer_ffl_key, '-', 2),
                   split_part(dealer_ffl_key, '-', 3), split_part(dealer_ffl_key, '-', 4),
                   split_part(dealer_ffl_key, '-', 5), dealer_name, dealer_street, dealer_city,
                   dealer_state, dealer_zip, 'trace', dealer_precision, dealer_geom, %(run_id)s
            FROM stg_u WHERE dealer_ffl_key IS NOT NULL
            ORDER BY dealer_ffl_key, line_number DESC
            ON CONFLICT (ffl_key) DO NOTHING""", {"run_id": run_id})
        # Each trace is stored with its source dealer and time-to-crime as the derive works them out
        # (etl/derive.py, "trace dealers and time-to-crime"), and each recovery below with the gun's and the
        # trace's values the map reads ("recovery markers"): the derive after the load then writes none of
        # them (at 100x its first derive spent 136 s writing all 1.25 million of each again).
        derived = ", ".join(f"{sql} AS {column}" for column, sql in
                            derived_trace_values("s", "d", "s.recovery_date", "pu.id", "po.id").items())
        cur.execute(f"""CREATE TEMP TABLE stg_trace ON COMMIT DROP AS
            SELECT s.*, f.id AS firearm_id, pu.id AS purchaser_id, po.id AS possessor_id, a.id AS associate_id,
                   {derived}
            FROM stg_u s
            JOIN firearm f ON f.agency = s.agency AND f.firearm_key = s.firearm_key
            LEFT JOIN pii.person pu ON pu.agency = s.agency AND pu.person_key = s.purchaser_key
            LEFT JOIN pii.person po ON po.agency = s.agency AND po.person_key = s.possessor_key
            LEFT JOIN pii.person a ON a.agency = s.agency AND a.person_key = s.associate_key
            LEFT JOIN dealer d ON d.ffl_key = s.dealer_ffl_key""",
                    {"state": settings.get("CGA_HOME_STATE"), "county": settings.get("CGA_HOME_COUNTY_FIPS")})
        trace_cols = TRACE_COLUMNS + ("firearm_id", "purchaser_id", "possessor_id", "associate_id")
        inserted, updated = upsert(cur, "trace", trace_cols, ("agency", "trace_number"), run_id,
                                   source="stg_trace", carried=DERIVED_TRACE_COLUMNS)
        # Recoveries (one per trace); a changed recovery of an existing trace counts as an update. Each
        # is stored with its district by the derive's rule against the maps loaded so far (as incidents
        # and alerts are, etl/districts.py): the derive after the load then writes none of them (at 10x
        # its first derive wrote all 125,000 recoveries again, 9.7 s).
        districts.create_pieces(cur)
        cur.execute(f"""
            WITH src AS (
                SELECT t.id AS trace_id, x.agency, x.firearm_id, x.possessor_id, x.case_number,
                       x.recovery_date, x.recovery_street AS street, x.recovery_city AS city,
                       x.recovery_state AS state, x.recovery_zip AS zip,
                       x.recovery_precision AS geocode_precision, x.geom,
                       {districts.in_force("x.recovery_date")} AS district,
                       f.firearm_type, {TTC_BAND_SQL} AS ttc_band, t.source_state, t.source_in_state
                FROM (SELECT s.*, s.recovery_geom AS geom FROM stg_trace s) x
                JOIN trace t ON t.agency = x.agency AND t.trace_number = x.trace_number
                JOIN firearm f ON f.id = x.firearm_id
            ), up AS (
                INSERT INTO recovery (trace_id, agency, firearm_id, possessor_id, case_number, recovery_date,
                                      street, city, state, zip, geocode_precision, geom, district,
                                      firearm_type, ttc_band, source_state, source_in_state)
                SELECT * FROM src
                ON CONFLICT (trace_id) DO UPDATE SET agency = EXCLUDED.agency, firearm_id = EXCLUDED.firearm_id,
                    possessor_id = EXCLUDED.possessor_id, case_number = EXCLUDED.case_number,
                    recovery_date = EXCLUDED.recovery_date, street = EXCLUDED.street, city = EXCLUDED.city,
                    state = EXCLUDED.state, zip = EXCLUDED.zip, geocode_precision = EXCLUDED.geocode_precision,
                    geom = EXCLUDED.geom, district = EXCLUDED.district, incident_id = NULL,
                    firearm_type = EXCLUDED.firearm_type, ttc_band = EXCLUDED.ttc_band,
                    source_state = EXCLUDED.source_state, source_in_state = EXCLUDED.source_in_state
                WHERE (recovery.firearm_id, recovery.possessor_id, recovery.case_number, recovery.recovery_date,
                       recovery.street, recovery.city, recovery.state, recovery.zip, recovery.geom)
                      IS DISTINCT FROM
                      (EXCLUDED.firearm_id, EXCLUDED.possessor_id, EXCLUDED.case_number, EXCLUDED.recovery_date,
                       EXCLUDED.street, EXCLUDED.city, EXCLUDED.state, EXCLUDED.zip, EXCLUDED.geom)
                RETURNING trace_id, (xmax = 0) AS inserted
            )
            SELECT count(*) FROM up u JOIN trace t ON t.id = u.trace_id
            WHERE NOT u.inserted AND t.run_id IS DISTINCT FROM %(run_id)s""", {"run_id": run_id})
        recovery_only_updates = cur.fetchone()[0]
        return inserted, updated + recovery_only_updates
