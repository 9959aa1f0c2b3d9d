"""One search box: serial numbers, trace numbers, case numbers, dealer licences or names, people.

Codes (serials, trace, case and licence numbers) match partially and ignore case, spaces and dashes.
Names match by words: every word typed (two characters or more) must begin a word of the name — of a
dealer's business or licensee name, of a person's surname or given names — so "al" finds "ALLEN" and
"AL'S GUNS" but not "ROYAL ARMS", and an empty name matches nothing. Obliterated-serial guns have no serial to
find: their trace number finds them. Trigram indexes (migration 0003) keep `LIKE '%…%'` fast; the
expressions here must match the indexed ones. Serials, trace and case numbers and people are
personal data: without that permission only dealers are searched (the result says so).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from layers import access
from layers.db import read_engine

PER_KIND = 12
MIN_CHARS = 2

KINDS = ("firearm", "incident", "person", "dealer")
KIND_TITLES = {"firearm": "Firearms", "incident": "Incidents", "person": "People", "dealer": "Dealers"}

_SERIAL = text("""
    SELECT f.id, f.serial_number, f.serial_obliterated, f.manufacturer, f.model, f.caliber, f.firearm_type,
           (SELECT count(*) FROM trace t WHERE t.firearm_id = f.id) AS traces
    FROM firearm f
    WHERE upper(regexp_replace(f.serial_number, '[^A-Za-z0-9]', '', 'g')) LIKE :pat
    ORDER BY upper(regexp_replace(f.serial_number, '[^A-Za-z0-9]', '', 'g')) = :exact DESC, f.serial_number, f.id
    LIMIT :n""")

_TRACE = text("""
    SELECT f.id, f.serial_number, f.serial_obliterated, f.manufacturer, f.model, f.caliber, f.firearm_type,
           t.trace_number, t.recovery_date
    FROM (SELECT t.firearm_id, t.trace_number, r.recovery_date FROM trace t JOIN recovery r ON r.trace_id = t.id
          WHERE upper(t.trace_number) LIKE :pat ORDER BY upper(t.trace_number) = :exact DESC, t.trace_number
          LIMIT :n) t
    JOIN firearm f ON f.id = t.firearm_id""")

_INCIDENT = text("""
    SELECT id, cc_number, crime_datetime AT TIME ZONE 'America/New_York' AS at, category, description, district
    FROM incident WHERE upper(cc_number) LIKE :pat
    ORDER BY upper(cc_number) = :exact DESC, cc_number LIMIT :n""")

_DEALER = text("""
    SELECT id, ffl_key, license_number, business_name, license_name, premise_city, premise_state,
           (SELECT count(*) FROM trace t WHERE t.dealer_id = d.id) AS traces
    FROM dealer d
    WHERE (:ffl <> '' AND replace(ffl_key, '-', '') LIKE :ffl)
       OR (:by_name AND (upper(business_name) LIKE :any OR upper(license_name) LIKE :any)
           AND NOT EXISTS (SELECT 1 FROM unnest(CAST(:words AS text[])) w(p) WHERE NOT EXISTS (
               SELECT 1 FROM regexp_split_to_table(upper(concat_ws(' ', business_name, license_name)), '[^A-Z0-9]+') n(word)
               WHERE n.word LIKE w.p)))
    ORDER BY traces DESC, business_name LIMIT :n""")

_PERSON = text("""
    SELECT p.id, p.last_name, p.first_name, p.dob, p.city, p.state,
           (SELECT count(*) FROM trace t WHERE t.purchaser_id = p.id) AS purchased,
           (SELECT count(*) FROM trace t WHERE t.possessor_id = p.id) AS possessed
    FROM pii.person p
    WHERE (upper(p.last_name) LIKE :any OR upper(p.first_name) LIKE :any)
      AND NOT EXISTS (SELECT 1 FROM unnest(CAST(:words AS text[])) w(p) WHERE NOT EXISTS (
          SELECT 1 FROM regexp_split_to_table(upper(concat_ws(' ', p.last_name, p.first_name)), '[^A-Z0-9]+') n(word)
          WHERE n.word LIKE w.p))
    ORDER BY p.last_name, p.first_name, p.id LIMIT :n""")


def normalize_code(q: str) -> str:
    """Upper case, letters and digits only: 'xyz-999 ' -> 'XYZ999'."""
    return re.sub(r"[^A-Z0-9]", "", q.upper())


def ffl_pattern(q: str) -> str:
    """A licence typed with or without its expiry part, as a LIKE pattern on the dashless key.

    '8-52-027-07-7A-07579' and '8-52-027-07-07579' both become '8520270707579%'; a partial number
    matches by prefix. Only input that looks like a licence (digits, dashes) gives a pattern."""
    s = q.strip().upper()
    if not re.fullmatch(r"[0-9][0-9A-Z\- ]{3,}", s) or not re.search(r"\d{2}", s):
        return ""
    parts = [p for p in re.split(r"[\s-]+", s) if p]
    if len(parts) == 6 and re.fullmatch(r"\d[A-Z]", parts[4]):
        parts.pop(4)  # the expiry part (year digit + month letter) changes at every renewal
        return "".join(parts) + "%"
    compact = "".join(parts)
    if len(compact) >= 10 and compact[8].isdigit() and compact[9].isalpha():
        compact = compact[:8] + compact[10:]
    if not compact.isdigit():
        return ""
    return compact + "%"


MIN_WORD = 2  # a name word shorter than this matches nothing on its own


def name_words(q: str) -> list[str]:
    """The words of a name query, upper case, letters and digits only, each at least MIN_WORD long:
    'Parker, P. al' -> ['PARKER', 'AL']. Shorter words (initials, stray letters) are ignored."""
    return [w for w in re.split(r"[^A-Z0-9]+", q.upper()) if len(w) >= MIN_WORD][:6]


def _name_params(words: list[str]) -> dict[str, Any]:
    """Each word must begin a word of the name (prefix match on words; an empty or NULL name matches nothing).
    `any` (the longest word anywhere in the name) lets the trigram indexes narrow the rows first."""
    return {"words": [f"{w}%" for w in words], "any": f"%{max(words, key=len)}%"}


def search(q: str, viewer: access.Viewer | None = None, per_kind: int = PER_KIND) -> dict[str, Any]:
    """Results grouped by kind: {'query', 'groups': {kind: [result]}, 'total', 'restricted'}.

    Each result has `kind`, `id`, `title`, `detail`, `href` and `matched` (what matched)."""
    viewer = access.require("records", viewer)
    q = (q or "").strip()[:100]
    groups: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    restricted = not viewer.personal_data
    code = normalize_code(q)
    if len(code) < MIN_CHARS and len(q) < MIN_CHARS:
        return {"query": q, "groups": groups, "total": 0, "restricted": restricted}
    n = per_kind + 1
    with read_engine().connect() as conn:
        if viewer.personal_data and len(code) >= MIN_CHARS:
            seen: set[int] = set()
            for r in conn.execute(_SERIAL, {"pat": f"%{code}%", "exact": code, "n": n}).mappings():
                seen.add(r["id"])
                groups["firearm"].append(_firearm(r, f"serial {r['serial_number']}"))
            for r in conn.execute(_TRACE, {"pat": f"%{code}%", "exact": code, "n": n}).mappings():
                if r["id"] not in seen:
                    seen.add(r["id"])
                    groups["firearm"].append(_firearm(r, f"trace {r['trace_number']}"))
            for r in conn.execute(_INCIDENT, {"pat": f"%{code}%", "exact": code, "n": n}).mappings():
                groups["incident"].append({
                    "kind": "incident", "id": r["id"], "href": f"/incident/{r['id']}",
                    "title": f"{r['cc_number']} — {(r['description'] or r['category'] or '').title()}",
                    "detail": " · ".join(x for x in (r["at"].strftime("%Y-%m-%d %H:%M"),
                                                     (r["district"] or "").title()) if x),
                    "matched": f"case number {r['cc_number']}"})
        words = name_words(q) if re.search(r"[A-Za-z]{2}", q) else []
        if viewer.personal_data and words:
            # Every word begins a word of the surname or given names, in any order.
            for r in conn.execute(_PERSON, {**_name_params(words), "n": n}).mappings():
                name = f"{r['last_name']}, {r['first_name']}" if r["first_name"] else r["last_name"]
                roles = []
                if r["purchased"]:
                    roles.append(f"purchaser of {r['purchased']} traced gun{'s' if r['purchased'] != 1 else ''}")
                if r["possessed"]:
                    roles.append(f"possessor in {r['possessed']} recover{'ies' if r['possessed'] != 1 else 'y'}")
                groups["person"].append({
                    "kind": "person", "id": r["id"], "href": f"/person/{r['id']}", "title": name,
                    "detail": " · ".join(x for x in (f"born {r['dob']}" if r["dob"] else "",
                                                     ", ".join(x for x in ((r["city"] or "").title(), r["state"]) if x),
                                                     "; ".join(roles)) if x),
                    "matched": "name"})
        ffl = ffl_pattern(q)
        by_name = bool(words)
        dealers = conn.execute(_DEALER, {"ffl": ffl, "by_name": by_name, **_name_params(words or ["-"]), "n": n}
                               ).mappings().all() if (ffl or by_name) else []
        for r in dealers:
            name = r["business_name"] or r["license_name"]
            groups["dealer"].append({
                "kind": "dealer", "id": r["id"], "href": f"/dealer/{r['id']}", "title": name,
                "detail": " · ".join(x for x in (r["license_number"] or r["ffl_key"],
                                                 f"licensee {r['license_name']}" if r["license_name"]
                                                 and r["license_name"] != name else "",
                                                 f"{(r['premise_city'] or '').title()}, {r['premise_state'] or ''}",
                                                 f"{r['traces']} traced gun{'s' if r['traces'] != 1 else ''}") if x),
                "matched": "licence" if ffl and r["ffl_key"].replace("-", "").startswith(ffl[:-1]) else "name"})
    more = {k: len(v) > per_kind for k, v in groups.items()}
    groups = {k: v[:per_kind] for k, v in groups.items()}
    from layers.access import audit

    # What was searched is itself recorded (the audit table is the one place that may hold it).
    audit.record(viewer, "search", detail={"query": q, "results": {k: len(v) for k, v in groups.items()}})
    if viewer.personal_data:
        for kind in ("firearm", "incident", "person"):
            access.record_access(viewer, "search", kind, [r["id"] for r in groups[kind]])
    return {"query": q, "groups": groups, "more": more, "total": sum(len(v) for v in groups.values()),
            "restricted": restricted}


def _firearm(r: Any, matched: str) -> dict[str, Any]:
    desc = " ".join(x for x in (r["manufacturer"], r["model"], r["caliber"]) if x)
    serial = "serial obliterated" if r["serial_obliterated"] else (
        f"serial {r['serial_number']}" if r["serial_number"] else "no serial")
    return {"kind": "firearm", "id": r["id"], "href": f"/firearm/{r['id']}", "title": desc or "Firearm",
            "detail": " · ".join(x for x in (serial, (r["firearm_type"] or "").lower()) if x), "matched": matched}
