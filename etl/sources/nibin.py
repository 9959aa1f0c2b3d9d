"""NIBIN leads (docs/formats.md §5): one row per lead between two ballistic evidence items."""

from __future__ import annotations

from etl.errors import RowError
from etl.parse import parse_date, parse_point, point_wkt, upper
from etl.sources.base import Layout, LoadContext, Source, schema_widths, upsert

EVIDENCE_TYPES = ("CASING", "TEST_FIRE")
COLUMNS = ("agency", "lead_id", "lead_date", "lead_status", "caliber")
SIDE = ("evidence_id", "evidence_type", "case_number", "trace_number")
# Optional per-item columns (docs/formats.md §5): the test-fired gun's serial, the item's date and place.
EXTRA = ("test_fire_serial", "evidence_date", "address", "geom")
_TYPES = {"evidence_date": "date", "geom": "geometry(Point,4326)"}
OPTIONAL = frozenset(f"{c}_{s}" for s in "ab" for c in ("test_fire_serial",)) | frozenset(
    f"evidence_{s}_{c}" for s in "ab" for c in ("date", "address", "latitude", "longitude"))


class Nibin(Source):
    kind = "nibin"
    layouts = (
        Layout("nibin-leads", frozenset({"lead_id", "lead_date", "lead_status", "evidence_a_id", "evidence_b_id"}),
               frozenset({"caliber", "evidence_a_type", "evidence_b_type", "case_number_a", "case_number_b",
                          "trace_number_a", "trace_number_b"}) | OPTIONAL,
               "Crime Gun Atlas NIBIN lead CSV"),
    )
    staging = (("agency", "text"), ("lead_id", "text"), ("lead_date", "date"), ("lead_status", "text"),
               ("caliber", "text")) + tuple((f"{f}_{s}", _TYPES.get(f, "text")) for s in "ab" for f in SIDE + EXTRA)
    key = ("agency", "lead_id")

    def widths(self) -> dict[str, int]:
        widths = schema_widths("nibin_lead", COLUMNS)
        for s in "ab":
            widths.update(schema_widths("ballistic_evidence", [f"{f}_{s}" for f in SIDE + EXTRA],
                                        {f"{f}_{s}": f for f in SIDE + EXTRA}))
        return widths

    def parse(self, rec: dict[str, str], ctx: LoadContext) -> dict:
        lead_id = upper(rec.get("lead_id"))
        if not lead_id:
            raise RowError("lead_id is missing")
        status = upper(rec.get("lead_status"))
        if status not in ("LEAD", "HIT"):
            raise RowError(f"lead_status {rec.get('lead_status')!r} is not LEAD or HIT")
        lead_date = parse_date(rec.get("lead_date"), "lead_date", required=True)
        row = {"agency": ctx.agency, "lead_id": lead_id, "lead_date": lead_date,
               "lead_status": status, "caliber": upper(rec.get("caliber"))}
        for side in "ab":
            evidence = upper(rec.get(f"evidence_{side}_id"))
            if not evidence:
                raise RowError(f"evidence_{side}_id is missing")
            kind = (upper(rec.get(f"evidence_{side}_type")) or "CASING").replace(" ", "_").replace("-", "_")
            if kind not in EVIDENCE_TYPES:
                raise RowError(f"evidence_{side}_type {kind!r} is not CASING or TEST_FIRE")
            case_number = upper(rec.get(f"case_number_{side}"))
            trace_number = upper(rec.get(f"trace_number_{side}"))
            if kind == "TEST_FIRE" and not trace_number:
                raise RowError(f"evidence {evidence} is a TEST_FIRE without trace_number_{side}")
            if kind == "CASING" and not case_number:
                raise RowError(f"evidence {evidence} is a CASING without case_number_{side}")
            serial = upper(rec.get(f"test_fire_serial_{side}"))
            if serial and kind != "TEST_FIRE":
                raise RowError(f"test_fire_serial_{side} {serial!r} is given for evidence {evidence}, a {kind}: "
                               "only a test fire comes from a recovered gun")
            day = parse_date(rec.get(f"evidence_{side}_date"), f"evidence_{side}_date")
            if day and day > lead_date:
                raise RowError(f"evidence_{side}_date {day} is after lead_date {lead_date}: an item is entered "
                               "before it is correlated")
            point = parse_point(rec.get(f"evidence_{side}_longitude"), rec.get(f"evidence_{side}_latitude"),
                                f"evidence_{side}_longitude/evidence_{side}_latitude", ctx.region)
            row.update({f"evidence_id_{side}": evidence, f"evidence_type_{side}": kind,
                        f"case_number_{side}": case_number, f"trace_number_{side}": trace_number,
                        f"test_fire_serial_{side}": serial, f"evidence_date_{side}": day,
                        f"address_{side}": upper(rec.get(f"evidence_{side}_address")),
                        f"geom_{side}": point_wkt(point)})
        if row["evidence_id_a"] == row["evidence_id_b"]:
            raise RowError("evidence_a_id and evidence_b_id are the same: a lead must link two different items")
        return row

    def merge(self, cur, run_id: int) -> tuple[int, int]:
        sides = " UNION ALL ".join(
            f"SELECT agency, evidence_id_{s} AS evidence_id, evidence_type_{s} AS evidence_type, "
            f"case_number_{s} AS case_number, trace_number_{s} AS trace_number, caliber, "
            + ", ".join(f"{c}_{s} AS {c}" for c in EXTRA) + ", line_number FROM stg_u"
            for s in "ab")
        # An item appears in several leads: its latest row wins, except that a serial, date or place
        # given on any row (or already stored) is not lost to a row or file that leaves it blank.
        latest = ", ".join(
            f"coalesce((array_agg(e.{c} ORDER BY e.line_number DESC) FILTER (WHERE e.{c} IS NOT NULL))[1], "
            f"min(b.{c}::text)::{'geometry' if c == 'geom' else 'date' if c == 'evidence_date' else 'text'}) AS {c}"
            for c in EXTRA)
        cur.execute(f"""CREATE TEMP TABLE stg_evidence ON COMMIT DROP AS
            SELECT e.agency, e.evidence_id,
                   (array_agg(e.evidence_type ORDER BY e.line_number DESC))[1] AS evidence_type,
                   (array_agg(e.case_number ORDER BY e.line_number DESC))[1] AS case_number,
                   (array_agg(e.trace_number ORDER BY e.line_number DESC))[1] AS trace_number,
                   (array_agg(e.caliber ORDER BY e.line_number DESC))[1] AS caliber, {latest}
            FROM ({sides}) e
            LEFT JOIN ballistic_evidence b ON b.agency = e.agency AND b.evidence_id = e.evidence_id
            GROUP BY e.agency, e.evidence_id""")
        upsert(cur, "ballistic_evidence", ("agency", "evidence_id", "evidence_type", "case_number", "trace_number",
                                           "caliber", *EXTRA), ("agency", "evidence_id"), run_id,
               source="stg_evidence")
        cur.execute("""CREATE TEMP TABLE stg_lead ON COMMIT DROP AS
            SELECT s.agency, s.lead_id, s.lead_date, s.lead_status, s.caliber,
                   a.id AS evidence_a_id, b.id AS evidence_b_id
            FROM stg_u s
            JOIN ballistic_evidence a ON a.agency = s.agency AND a.evidence_id = s.evidence_id_a
            JOIN ballistic_evidence b ON b.agency = s.agency AND b.evidence_id = s.evidence_id_b""")
        return upsert(cur, "nibin_lead", COLUMNS + ("evidence_a_id", "evidence_b_id"), ("agency", "lead_id"),
                      run_id, source="stg_lead")
