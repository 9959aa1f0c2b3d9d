"""The derive's steps tying recoveries and NIBIN evidence to the incident of the case they name (and the
evidence to the gun of the trace it names): which rows a derive looks at, and how it finds the incident.

The incident of a case is the firearm one, then the first recorded. Joined to every incident of the case,
the update took whichever came first, and the next derive another one: at 100x, 12.7 s of the derive after
200 more incidents. After a load only the rows its runs may have moved are looked at: for a recovery, its
trace was loaded, an incident of its case was, or the incident it points to was; for NIBIN evidence, it was
loaded, names a case or trace loaded, or points to an incident loaded (every NIBIN record: 5.0 s of the
derive after 200 more incidents at 100x). The statements take the derive's `%(runs)s`. Then the evidence
is grouped by gun (`nibin_groups`), and guns tied to the scenes of their recoveries and their groups.
"""

from __future__ import annotations

import psycopg


def _run_incidents(table: str) -> list[str]:
    """Queries for the ids of `table` rows (recovery or NIBIN evidence) tied to an incident the runs loaded:
    through the incident they point to, or through the case number they name."""
    return [f"SELECT x.id FROM {table} x JOIN incident i ON i.id = x.incident_id WHERE i.run_id = ANY(%(runs)s)",
            f"SELECT x.id FROM {table} x JOIN incident i ON i.agency = x.agency AND i.cc_number = x.case_number "
            "WHERE i.run_id = ANY(%(runs)s)"]


# The rows a run may have moved, as a union of queries each starting from the run's own rows (found by run
# through block-range indexes) and reaching the table through an index. Written as one condition with ORs
# over the table, the same test read every row: at 100x, 3.9 s (recoveries) and 3.6 s (evidence) of the
# derive after 200 more incidents.
# Recoveries (r2) whose incident the runs may have changed.
RECOVERIES_TOUCHED = "r2.id IN (" + "\n    UNION ".join([
    "SELECT x.id FROM recovery x JOIN trace t ON t.id = x.trace_id WHERE t.run_id = ANY(%(runs)s)",
    *_run_incidents("recovery")]) + ")"
# NIBIN evidence (e2) whose incident or gun the runs may have changed.
EVIDENCE_TOUCHED = "e2.id IN (" + "\n    UNION ".join([
    "SELECT x.id FROM ballistic_evidence x WHERE x.run_id = ANY(%(runs)s)",
    *_run_incidents("ballistic_evidence"),
    "SELECT x.id FROM ballistic_evidence x JOIN trace t ON t.agency = x.agency AND t.trace_number = x.trace_number "
    "WHERE t.run_id = ANY(%(runs)s)"]) + ")"


def _case_incident(table: str, alias: str, full: bool) -> tuple[str, str]:
    """(value, join): the incident of the case a row of `table` (as `alias`) names. After a load, for the few
    rows it may have moved: one index lookup each. On a full derive, for every row: the case numbers of the
    whole table matched in one join that reads the incidents once, the same incident picked by the same order
    (at 10x from a cold cache, 2.2 s -> 0.3 s for 50,000 recoveries; at 100x the lookups took 88 s of the
    first derive)."""
    if not full:
        return (f"(SELECT i.id FROM incident i WHERE i.agency = {alias}.agency AND i.cc_number = {alias}.case_number "
                f"ORDER BY i.is_firearm DESC, i.id LIMIT 1)"), ""
    return "ci.incident_id", (
        f"LEFT JOIN (SELECT DISTINCT ON (x.id) x.id, i.id AS incident_id FROM {table} x JOIN incident i "
        f"ON i.agency = x.agency AND i.cc_number = x.case_number ORDER BY x.id, i.is_firearm DESC, i.id) ci "
        f"ON ci.id = {alias}.id")


def recovery_incidents(full: bool) -> str:
    value, join = _case_incident("recovery", "r2", full)
    return f"""
        UPDATE recovery r SET incident_id = s.incident_id
        FROM (SELECT r2.id, {value} AS incident_id
              FROM recovery r2 {join} WHERE {"TRUE" if full else RECOVERIES_TOUCHED}) s
        WHERE s.id = r.id AND r.incident_id IS DISTINCT FROM s.incident_id"""


def evidence_incidents_and_guns(full: bool) -> str:
    value, join = _case_incident("ballistic_evidence", "e2", full)
    return f"""
        UPDATE ballistic_evidence e SET incident_id = s.incident_id, firearm_id = s.firearm_id
        FROM (SELECT e2.id, {value} AS incident_id, t.firearm_id
              FROM ballistic_evidence e2 {join}
              LEFT JOIN trace t ON t.agency = e2.agency AND t.trace_number = e2.trace_number
              WHERE {"TRUE" if full else EVIDENCE_TOUCHED}) s
        WHERE s.id = e.id AND (e.incident_id, e.firearm_id) IS DISTINCT FROM (s.incident_id, s.firearm_id)"""


def nibin_groups(conn: psycopg.Connection) -> None:
    """Evidence joined by leads was fired by one gun: group it (union-find), then link guns to incidents."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in conn.execute("SELECT evidence_a_id, evidence_b_id FROM nibin_lead"):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    conn.execute("CREATE TEMP TABLE grp (evidence_id int PRIMARY KEY, gun_group int) ON COMMIT DROP")
    with conn.cursor() as cur, cur.copy("COPY grp FROM STDIN") as copy:
        for x in list(parent):
            copy.write_row((x, find(x)))
    conn.execute("""UPDATE ballistic_evidence e SET gun_group = g.gun_group FROM grp g
                    WHERE g.evidence_id = e.id AND e.gun_group IS DISTINCT FROM g.gun_group""")
    # The statistics taken at the start of the derive, right after a load, saw every incident_id, firearm_id
    # and gun_group empty: planned on them, the join below tested every test-fired group against every
    # casing (37-98 s at 10x Baltimore). Taken again now that they are set: 0.06 s.
    conn.execute("ANALYZE ballistic_evidence")
    conn.execute("DELETE FROM firearm_incident")
    conn.execute("""
        INSERT INTO firearm_incident (firearm_id, incident_id, via)
        SELECT DISTINCT firearm_id, incident_id, 'recovery' FROM recovery WHERE incident_id IS NOT NULL""")
    # Every scene in a group that holds a test fire of a recovered gun was fired by that gun. The lead
    # named is the one touching that scene's evidence (a HIT preferred, then the earliest, then the first
    # loaded: without that last rule, leads of one day were picked in whatever order the plan met them).
    conn.execute("""
        INSERT INTO firearm_incident (firearm_id, incident_id, via, lead_id, lead_status)
        SELECT DISTINCT ON (g.firearm_id, c.incident_id) g.firearm_id, c.incident_id, 'nibin', l.lead_id,
               l.lead_status
        FROM (SELECT DISTINCT gun_group, firearm_id FROM ballistic_evidence
              WHERE evidence_type = 'TEST_FIRE' AND firearm_id IS NOT NULL) g
        JOIN ballistic_evidence c ON c.gun_group = g.gun_group AND c.evidence_type = 'CASING'
                                 AND c.incident_id IS NOT NULL
        JOIN nibin_lead l ON c.id IN (l.evidence_a_id, l.evidence_b_id)
        ORDER BY g.firearm_id, c.incident_id, (l.lead_status = 'HIT') DESC, l.lead_date, l.id
        ON CONFLICT (firearm_id, incident_id) DO UPDATE SET lead_id = EXCLUDED.lead_id,
            lead_status = EXCLUDED.lead_status""")
