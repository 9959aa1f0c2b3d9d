"""Reads of the trafficking index for the pages: ranked lists with filters and sorting, each score's
contributions with links to the rows behind them, CSV exports and analysts' reviews (source flows:
flows.py).

Records roles only (`access.require("records")` in every function). Names of people pass the gate;
every list of people handed out and every export is written to the audit trail.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import text

from layers import access
from layers.access import audit
from layers.db import read_engine, web_engine
from layers.index import weights as W

LEVELS = ("purchaser", "dealer", "firearm", "state")
VERDICTS = ("confirmed", "rejected")
PAGE = 50
MAX_EXPORT = 5000

# Per level: table, key column, columns offered for sorting, and the query of one page.
_SORTS = {
    "purchaser": ("rank", "score", "guns", "dealers", "fast_guns", "multiple", "last_purchase", "min_ttc"),
    "dealer": ("rank", "score", "traces", "short_n", "short_share", "z_short", "repeat_n", "purchasers"),
    "firearm": ("rank", "score", "min_ttc", "recoveries", "nibin_incidents", "last_trace"),
    "state": ("rank", "score", "traces", "short_n", "short_share", "z_short"),
}
_REVIEW = """LEFT JOIN LATERAL (SELECT r.verdict, r.note, r.username, r.at FROM index.review r
                                 WHERE r.kind = '{kind}' AND r.entity_id = s.{key} ORDER BY r.at DESC, r.id DESC LIMIT 1) rv
                   ON true"""
_QUERIES = {
    "purchaser": ("index.purchaser_score", "person_id", f"""
        SELECT s.*, p.last_name, p.first_name, p.dob, rv.verdict, rv.note, rv.username AS reviewed_by, rv.at AS reviewed_at
        FROM index.purchaser_score s JOIN pii.person p ON p.id = s.person_id {_REVIEW.format(kind='purchaser', key='person_id')}
        WHERE {{where}}"""),
    "dealer": ("index.dealer_score", "dealer_id", f"""
        SELECT s.*, d.business_name, d.license_name, d.premise_city, d.premise_state, d.ffl_key,
               rv.verdict, rv.note, rv.username AS reviewed_by, rv.at AS reviewed_at
        FROM index.dealer_score s JOIN dealer d ON d.id = s.dealer_id {_REVIEW.format(kind='dealer', key='dealer_id')}
        WHERE {{where}}"""),
    "firearm": ("index.firearm_score", "firearm_id", f"""
        SELECT s.*, f.manufacturer, f.model, f.caliber, f.firearm_type, rv.verdict, rv.note,
               rv.username AS reviewed_by, rv.at AS reviewed_at
        FROM index.firearm_score s JOIN firearm f ON f.id = s.firearm_id {_REVIEW.format(kind='firearm', key='firearm_id')}
        WHERE {{where}}"""),
    "state": ("index.state_score", "state", """
        SELECT s.*, NULL AS verdict, NULL AS note, NULL AS reviewed_by, NULL AS reviewed_at
        FROM index.state_score s WHERE {where}"""),
}
_HREF = {"purchaser": "/person/{}", "dealer": "/dealer/{}", "firearm": "/firearm/{}", "state": None}


def _level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; one of {', '.join(LEVELS)}")
    return level


def _filters(level: str, filters: dict[str, Any] | None) -> tuple[str, dict[str, Any], bool]:
    """SQL conditions from the page's filters (every value is a bound parameter), and whether any of them is on
    a joined table (the dealer's state, the latest review) rather than the score table itself."""
    f = filters or {}
    where, params, joined = ["TRUE"], {}, False
    if f.get("min_score") not in (None, ""):
        where.append("s.score >= :min_score")
        params["min_score"] = float(f["min_score"])
    if f.get("state"):
        col = {"purchaser": None, "dealer": "d.premise_state", "firearm": "s.source_state", "state": "s.state"}[level]
        if col:
            where.append(f"{col} = :state")
            params["state"] = str(f["state"]).upper()[:2]
            joined = joined or col.startswith("d.")
    if f.get("verdict") in (*VERDICTS, "unreviewed") and level != "state":
        joined = True
        if f["verdict"] == "unreviewed":
            where.append("rv.verdict IS NULL")
        elif f["verdict"] in VERDICTS:
            where.append("rv.verdict = :verdict")
            params["verdict"] = f["verdict"]
    if f.get("min_guns") not in (None, "") and level == "purchaser":
        where.append("s.guns >= :min_guns")
        params["min_guns"] = int(f["min_guns"])
    if f.get("peer_group") and level == "dealer":
        where.append("s.peer_group = :peer_group")
        params["peer_group"] = str(f["peer_group"])
    if f.get("max_ttc") not in (None, "") and level == "firearm":
        where.append("s.min_ttc <= :max_ttc")
        params["max_ttc"] = int(f["max_ttc"])
    return " AND ".join(where), params, joined


def label(key: str) -> str:
    return W.LABELS.get(key, key.replace("_", " ").capitalize())


def _title(level: str, r: dict[str, Any], viewer: access.Viewer) -> str:
    if level == "purchaser":
        if not viewer.personal_data:
            return access.RESTRICTED
        return f"{r['last_name']}, {r['first_name']}" if r.get("first_name") else r["last_name"]
    if level == "dealer":
        return access.dealer_name(r["business_name"], r["license_name"], viewer, r["premise_city"], r["premise_state"])
    if level == "firearm":
        return " ".join(x for x in (r.get("manufacturer"), r.get("model"), r.get("caliber")) if x) or "Firearm"
    return r["state"]


def _why(contributions: list[dict[str, Any]], n: int = 3) -> str:
    parts = [f"{label(c['key'])} +{float(c['points']):.1f}" for c in contributions[:n]]
    return ", ".join(parts) if parts else "No indicator above the city's baseline."


def _total(conn, table: str, sql: str, where: str, params: dict[str, Any], joined: bool) -> int:
    """How many rows the list holds, without reading them all: ranks are 1..N on every table (whole and
    incremental recomputes both number every row), so an unfiltered list has the highest rank; filters on
    the score table's own columns count that table alone; only filters on joined columns (a dealer's state,
    the review verdict) count the whole query. At 100x the joined count of every purchaser took 0.9 s."""
    if where == "TRUE":
        return conn.execute(text(f"SELECT coalesce(max(rank), 0) FROM {table}")).scalar_one()
    if not joined:
        return conn.execute(text(f"SELECT count(*) FROM {table} s WHERE {where}"), params).scalar_one()
    return conn.execute(text(f"SELECT count(*) FROM ({sql}) q"), params).scalar_one()


def _computed(conn, table: str) -> tuple[str | None, Any]:
    """(weights version, when) of the scores: the last recorded computation (one row), else the table itself
    (rows written without a computation record). min/max over the table read every row: 84–219 ms at 100x."""
    last = conn.execute(text("SELECT config_version, computed_at FROM index.computation ORDER BY id DESC LIMIT 1")
                        ).one_or_none()
    if last is not None:
        return last[0], last[1]
    return tuple(conn.execute(text(f"SELECT min(config_version), max(computed_at) FROM {table}")).one())


def ranked(level: str, viewer: access.Viewer | None = None, *, filters: dict[str, Any] | None = None,
           sort: str = "rank", descending: bool | None = None, limit: int = PAGE, offset: int = 0,
           audit_action: str | None = "list index") -> dict[str, Any]:
    """One page of a ranked list: {'rows': [...], 'total', 'config_version', 'computed_at', 'level'}."""
    viewer = access.require("records", viewer)
    level = _level(level)
    table, key, query = _QUERIES[level]
    if sort not in _SORTS[level]:
        sort = "rank"
    if descending is None:
        descending = sort not in ("rank", "min_ttc")
    where, params, joined = _filters(level, filters)
    order = f"s.{sort} {'DESC' if descending else 'ASC'} NULLS LAST, s.rank"
    with read_engine().connect() as conn:
        sql = query.format(where=where)
        total = _total(conn, table, sql, where, params, joined)
        rows = [dict(r) for r in conn.execute(text(f"{sql} ORDER BY {order} LIMIT :limit OFFSET :offset"),
                                              {**params, "limit": int(limit), "offset": int(offset)}).mappings()]
        meta = _computed(conn, table)
    out = []
    for r in rows:
        href = _HREF[level].format(r[key]) if _HREF[level] else None
        if level == "purchaser" and not viewer.personal_data:
            href = None
        out.append({**{k: v for k, v in r.items() if k not in ("last_name", "first_name", "dob", "license_name")},
                    "id": r[key], "title": _title(level, r, viewer), "why": _why(r["contributions"]), "href": href})
    if level == "purchaser" and viewer.personal_data and audit_action:
        access.record_access(viewer, audit_action, "person", [r["id"] for r in out])
    return {"level": level, "rows": out, "total": total, "config_version": meta[0] or W.VERSION,
            "computed_at": meta[1]}


def _row_links(rows: dict[str, Any] | None, conn) -> list[tuple[str, str]]:
    """Links to the source rows behind one contribution: traces open their firearm's journey."""
    if not rows or not rows.get("ids"):
        return []
    ids = [i for i in rows["ids"] if i is not None]
    kind = rows["kind"]
    if kind == "trace":
        found = conn.execute(text("SELECT id, trace_number, firearm_id FROM trace WHERE id = ANY(:i) ORDER BY id"),
                             {"i": ids}).all()
        return [(f"trace {r.trace_number}", f"/firearm/{r.firearm_id}") for r in found]
    prefix = {"firearm": "/firearm/", "person": "/person/", "dealer": "/dealer/", "incident": "/incident/"}[kind]
    return [(f"{kind} {i}", f"{prefix}{i}") for i in ids]


def _purchaser_repeat(f: dict[str, Any]) -> str:
    share = f"{100 * float(f['city share of purchasers with 2+ guns']):.0f}%"
    out = (f"{f.get('passed on', f.get('guns'))} of {f.get('guns')} traced crime guns left the buyer's hands unreported; "
           f"{share} of this city's purchasers have two or more such guns.")
    left_out = [f"{n} {what}" for n, what in ((f.get("reported stolen by the buyer before the trace"),
                                               "reported stolen by the buyer before the trace"),
                                              (f.get("recovered from the buyer"), "recovered from the buyer")) if n]
    return out + (f" Not counted: {'; '.join(left_out)}." if left_out else "")


def sentence(key: str, figures: dict[str, Any]) -> str:
    """The plain-language finding behind one contribution."""
    f = figures
    pct = lambda x: f"{100 * float(x):.0f}%"  # noqa: E731
    return {
        "repeat": lambda: (_purchaser_repeat(f) if "guns" in f else
                           (f"{f['bought by flagged purchasers']} traces bought by flagged purchasers" if "bought by flagged purchasers" in f
                            else f"{f.get('bought by purchasers with 2+ traced guns')} traces bought by repeat purchasers "
                                 "whose guns came back fast") + f" (city share {pct(f['city share'])}, z = {f.get('z')})."),
        "fast_other": lambda: (f"{f['under 1 year']} guns recovered from someone else within a year and {f['1 to 3 years']} "
                               f"within three (city shares {pct(f['city share under 1 year'])} and "
                               f"{pct(f['city share under 3 years'])})."),
        "multiple": lambda: (f"{f.get('guns in multiple sales', f.get('multiple sales', 1))} sold in multiple sales "
                             f"(city share {pct(f['city share of multiple sales'] if 'city share of multiple sales' in f else f['city share'])})."),
        "dealers": lambda: f"Bought at {f['dealers']} dealers.",
        "buyers": lambda: (f"Sold traced guns to {f['flagged purchasers']} flagged purchaser(s) (purchaser score "
                           f"{f['flag at purchaser score']} or more)."),
        "span": lambda: f"Fast guns bought from {f['first fast purchase']} to {f['last fast purchase']}.",
        "corridor": lambda: (f"{f['fast guns from I-95 states']} fast guns bought in I-95 corridor states."
                             if "fast guns from I-95 states" in f else
                             f"{f.get('source state', 'An')} is an I-95 corridor state."),
        "short": lambda: (f"{f['under 1 year']} of {f['traces with time-to-crime']} traces under one year, against "
                          f"{pct(f.get('peer share under 1 year', f.get('city share under 1 year', 0)))} for "
                          f"{'its peers (' + str(f['peer group']) + ')' if 'peer group' in f else 'the city'}"
                          + (f" — {f['expected under 1 year']} expected" if "expected under 1 year" in f else "")
                          + f" (z = {f.get('z')})."),
        "ttc": lambda: (f"Recovered {f['days']} days after its first retail sale; {pct(f['city share at that band or faster'])} "
                        "of this city's traced guns are that fast."),
        "other_hands": lambda: "Recovered from someone other than its buyer within three years.",
        "out_of_state": lambda: f"First sold in {f['source state']}.",
        "obliterated": lambda: "The serial number was obliterated.",
        "repeat_recovery": lambda: f"Recovered {f['recoveries']} times.",
        "nibin": lambda: f"Linked by NIBIN to {f['NIBIN-linked incidents']} incidents.",
        "purchaser": lambda: f"Its purchaser scores {f['purchaser score']} (rank {f['purchaser rank']}).",
        "dealer": lambda: f"Its dealer scores {f['dealer score']} (rank {f['dealer rank']}).",
    }.get(key, lambda: ", ".join(f"{k}: {v}" for k, v in f.items()))()


def explain(level: str, entity_id: Any, viewer: access.Viewer | None = None) -> dict[str, Any] | None:
    """One score with its contributions (label, points, finding, figures, links to the rows behind it),
    the analysts' reviews, and the config version. None when the record has no score."""
    viewer = access.require("records", viewer)
    level = _level(level)
    table, key, query = _QUERIES[level]
    with read_engine().connect() as conn:
        r = conn.execute(text(query.format(where=f"s.{key} = :id")), {"id": entity_id}).mappings().first()
        if r is None:
            return None
        parts = []
        for c in r["contributions"]:
            parts.append({"key": c["key"], "label": label(c["key"]), "points": float(c["points"]),
                          "finding": sentence(c["key"], c.get("figures", {})), "figures": c.get("figures", {}),
                          "rows": (c.get("rows") or {}).get("n"), "links": _row_links(c.get("rows"), conn)})
        history = [dict(h) for h in conn.execute(text("""
            SELECT verdict, note, username, role, at, score, rank, config_version FROM index.review
            WHERE kind = :k AND entity_id = :id ORDER BY at DESC, id DESC"""), {"k": level, "id": entity_id}).mappings()
        ] if level != "state" else []
    if level == "purchaser":
        if not viewer.personal_data:
            raise access.Denied("personal", viewer)
        access.record_access(viewer, "view", "person", [entity_id])
    return {"level": level, "id": entity_id, "title": _title(level, dict(r), viewer), "score": r["score"],
            "rank": r["rank"], "config_version": r["config_version"], "computed_at": r["computed_at"],
            "contributions": parts, "reviews": history,
            "check": abs(sum(p["points"] for p in parts) - float(r["score"])) < 0.01 * max(1, len(parts))}


_CSV_COLUMNS = {
    "purchaser": ("rank", "score", "id", "title", "guns", "dealers", "fast_guns", "multiple", "first_purchase",
                  "last_purchase", "min_ttc", "why", "verdict", "note", "reviewed_by", "reviewed_at"),
    "dealer": ("rank", "score", "id", "title", "ffl_key", "premise_city", "premise_state", "peer_group", "traces",
               "short_n", "short_share", "peer_share", "z_short", "repeat_n", "multiple_n", "why", "verdict", "note",
               "reviewed_by", "reviewed_at"),
    "firearm": ("rank", "score", "id", "title", "min_ttc", "source_state", "recoveries", "nibin_incidents",
                "last_trace", "why", "verdict", "note", "reviewed_by", "reviewed_at"),
    "state": ("rank", "score", "id", "traces", "short_n", "short_share", "z_short", "repeat_n", "dealers",
              "corridor", "why"),
}


def export_csv(level: str, viewer: access.Viewer | None = None, *, filters: dict[str, Any] | None = None,
               sort: str = "rank", descending: bool | None = None, limit: int = MAX_EXPORT) -> str:
    """The ranked list as CSV (with the config version on every row); the export is audited."""
    viewer = access.require("records", viewer)
    data = ranked(level, viewer, filters=filters, sort=sort, descending=descending,
                  limit=min(int(limit), MAX_EXPORT), audit_action=None)
    out = io.StringIO()
    w = csv.writer(out)
    cols = _CSV_COLUMNS[data["level"]]
    w.writerow([*cols, "config_version", "computed_at"])
    for r in data["rows"]:
        w.writerow([_cell(r.get(c)) for c in cols] + [r.get("config_version"), _cell(r.get("computed_at"))])
    kind = {"purchaser": "person", "dealer": "dealer", "firearm": "firearm", "state": "state"}[data["level"]]
    audit.record(viewer, "export", kind=kind, ids=[r["id"] for r in data["rows"]],
                 detail={"what": f"trafficking index: {data['level']}s", "filters": filters or {}, "sort": sort,
                         "config_version": data["config_version"], "rows": len(data["rows"])})
    return out.getvalue()


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v  # a spreadsheet must not run it as a formula
    return v


def review(kind: str, entity_id: int, verdict: str, note: str, viewer: access.Viewer | None = None) -> dict[str, Any]:
    """An analyst confirms or rejects a flagged purchaser, dealer or gun, with a note. Appended (the latest
    is the current verdict), kept across recomputation, and audited."""
    viewer = access.require("records", viewer)
    if kind not in ("purchaser", "dealer", "firearm"):
        raise ValueError("only purchasers, dealers and guns are reviewed")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    note = (note or "").strip()
    if not note:
        raise ValueError("say why in a note")
    note = note[:2000]
    table, key, _ = _QUERIES[kind]
    with read_engine().connect() as conn:
        score = conn.execute(text(f"SELECT score, rank, config_version FROM {table} WHERE {key} = :id"),
                             {"id": entity_id}).first()
    if score is None:
        raise ValueError(f"no {kind} {entity_id} in the index")
    record_kind = {"purchaser": "person", "dealer": "dealer", "firearm": "firearm"}[kind]
    audit.record(viewer, "review lead", kind=record_kind, ids=[entity_id],
                 detail={"verdict": verdict, "score": score[0], "rank": score[1], "config_version": score[2]})
    with web_engine().begin() as conn:
        row = conn.execute(text("""
            INSERT INTO index.review (kind, entity_id, verdict, note, username, role, score, rank, config_version)
            VALUES (:kind, :id, :verdict, :note, :user, :role, :score, :rank, :version)
            RETURNING id, at"""), {"kind": kind, "id": entity_id, "verdict": verdict, "note": note,
                                   "user": viewer.user, "role": viewer.role, "score": score[0], "rank": score[1],
                                   "version": score[2]}).one()
    return {"id": row.id, "at": row.at, "kind": kind, "entity_id": entity_id, "verdict": verdict, "note": note,
            "username": viewer.user}
