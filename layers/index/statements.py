"""The trafficking index's SQL: the city's baselines, each record kind's facts and scores, and the steps of a
whole recompute in order (layers/index/compute.py runs them, whole or for the records a load touched).

Statements take the parameters of compute._params; a `/*marker*/` comment is where compute narrows a step
to the touched records. Each contribution to a score is a jsonb object with its points, its figures and the
ids of the rows behind it (`_c`), kept largest first (`_contributions`).
"""

from __future__ import annotations


def _contributions(*items: tuple[str, str]) -> str:
    """SQL: a jsonb array of the non-null contribution objects (`_c`), largest first. A record none of whose
    contributions has points (a quarter of the firearms at 100x) gets the empty array without building any."""
    points = ", ".join(f"({p})" for p, _ in items)
    return f"""CASE WHEN greatest({points}) > 0 THEN
               (SELECT coalesce(jsonb_agg(c ORDER BY (c->>'points')::float DESC), '[]'::jsonb)
                FROM unnest(ARRAY[{', '.join(sql for _, sql in items)}]::jsonb[]) c WHERE c IS NOT NULL)
               ELSE '[]'::jsonb END"""


def _c(key: str, points: str, figures: str, kind: str | None = None, ids: str | None = None,
       n: str | None = None) -> tuple[str, str]:
    """(points, SQL): one contribution object when its points are positive."""
    rows = (f", 'rows', jsonb_build_object('kind', '{kind}', 'ids', to_jsonb({ids}), 'n', {n})"
            if kind else "")
    return points, f"""CASE WHEN ({points}) > 0 THEN jsonb_build_object('key', '{key}',
                 'points', round(CAST({points} AS numeric), 3), 'figures', jsonb_build_object({figures}){rows}) END"""


# The city's baselines. Shares are clipped to [lo, hi] so that -log10 stays finite.
CITY = """
CREATE TEMP TABLE ix_city ON COMMIT DROP AS
WITH t AS (
    SELECT count(*) FILTER (WHERE ttc_days IS NOT NULL) AS n_ttc,
           count(*) FILTER (WHERE ttc_days < %(short)s) AS n_short,
           count(*) FILTER (WHERE ttc_days < %(red)s) AS n_red,
           count(*) FILTER (WHERE multiple_sale) AS n_multiple,
           count(*) FILTER (WHERE multiple_sale IS NOT NULL) AS n_multiple_known
    FROM trace),
p AS (SELECT count(*) AS purchasers, count(*) FILTER (WHERE passed >= 2) AS repeaters,
             sum(traces) AS traces, sum(traces) FILTER (WHERE repeat_fast) AS repeat_traces FROM ix_p)
SELECT t.*, p.purchasers, p.repeaters, p.traces AS purchaser_traces, p.repeat_traces,
       least(greatest(t.n_short::float / nullif(t.n_ttc, 0), %(lo)s), %(hi)s) AS p_short,
       least(greatest(t.n_red::float / nullif(t.n_ttc, 0), %(lo)s), %(hi)s) AS p_red,
       least(greatest(t.n_multiple::float / nullif(t.n_multiple_known, 0), %(lo)s), %(hi)s) AS p_multiple,
       least(greatest(p.repeaters::float / nullif(p.purchasers, 0), %(lo)s), %(hi)s) AS q_repeat,
       least(greatest(coalesce(p.repeat_traces, 0)::float / nullif(p.traces, 0), %(lo)s), %(hi)s) AS r_repeat
FROM t, p"""

# A gun "passed on": recovered from someone other than its buyer, and not reported stolen by the buyer
# before the trace (a burglary victim's guns and an owner's own guns say nothing about the buyer).
PASSED = ("t.possessor_is_purchaser IS NOT TRUE AND NOT coalesce(t.stolen_from = 'PRIVATE' "
          "AND t.stolen_report_date <= t.request_date, false)")

PURCHASER_FACTS = f"""
CREATE TEMP TABLE ix_p ON COMMIT DROP AS
SELECT t.purchaser_id AS person_id, count(*) AS traces, count(DISTINCT t.firearm_id) AS guns,
       count(DISTINCT t.firearm_id) FILTER (WHERE {PASSED}) AS passed,
       count(DISTINCT t.firearm_id) FILTER (WHERE t.stolen_from = 'PRIVATE' AND t.stolen_report_date <= t.request_date)
           AS reported_stolen,
       count(DISTINCT t.firearm_id) FILTER (WHERE t.possessor_is_purchaser) AS own_recovered,
       count(DISTINCT t.firearm_id) FILTER (WHERE t.ttc_days < %(short)s AND {PASSED}) AS short_other,
       count(DISTINCT t.firearm_id) FILTER (WHERE t.ttc_days >= %(short)s AND t.ttc_days < %(red)s AND {PASSED})
           AS red_other,
       count(DISTINCT t.firearm_id) FILTER (WHERE t.multiple_sale AND {PASSED}) AS multiple,
       count(DISTINCT t.dealer_id) FILTER (WHERE {PASSED}) AS dealers,
       count(DISTINCT t.firearm_id) FILTER (WHERE t.ttc_days < %(red)s AND t.source_state = ANY(%(corridor)s) AND {PASSED})
           AS corridor,
       min(t.purchase_date) FILTER (WHERE t.ttc_days < %(red)s AND {PASSED}) AS fast_first,
       max(t.purchase_date) FILTER (WHERE t.ttc_days < %(red)s AND {PASSED}) AS fast_last,
       min(t.purchase_date) AS first_purchase, max(t.purchase_date) AS last_purchase, min(t.ttc_days) AS min_ttc,
       (array_agg(t.id ORDER BY t.id) FILTER (WHERE {PASSED}))[1:%(ids)s] AS trace_ids,
       (array_agg(t.id ORDER BY t.id) FILTER (WHERE t.ttc_days < %(red)s AND {PASSED}))[1:%(ids)s] AS fast_ids,
       (array_agg(t.id ORDER BY t.id) FILTER (WHERE t.multiple_sale AND {PASSED}))[1:%(ids)s] AS multiple_ids,
       (array_agg(t.id ORDER BY t.id) FILTER (WHERE t.ttc_days < %(red)s AND t.source_state = ANY(%(corridor)s)
                                                AND {PASSED}))[1:%(ids)s] AS corridor_ids,
       array_agg(DISTINCT t.dealer_id) FILTER (WHERE t.dealer_id IS NOT NULL AND {PASSED}) AS dealer_ids,
       array_agg(DISTINCT t.firearm_id) AS firearm_ids,
       -- a repeat buyer whose guns left their hands and came back fast: what a dealer's repeat count counts
       count(DISTINCT t.firearm_id) FILTER (WHERE {PASSED}) >= 2
           AND count(*) FILTER (WHERE t.ttc_days < %(red)s AND {PASSED}) >= 1 AS repeat_fast
FROM trace t WHERE t.purchaser_id IS NOT NULL /*purchasers*/ GROUP BY t.purchaser_id"""

PURCHASER_SCORE = f"""
INSERT INTO index.purchaser_score (person_id, score, rank, guns, dealers, fast_guns, short_other, multiple, first_purchase,
                                   last_purchase, min_ttc, firearm_ids, contributions, config_version, computed_at)
SELECT x.person_id, x.score, row_number() OVER (ORDER BY x.score DESC, x.guns DESC, x.person_id), x.guns, x.dealers,
       x.short_other + x.red_other, x.short_other, x.multiple, x.first_purchase, x.last_purchase, x.min_ttc, x.firearm_ids,
       {_contributions(
           _c("repeat", "x.pt_repeat", "'guns', x.guns, 'passed on', x.passed, "
              "'reported stolen by the buyer before the trace', x.reported_stolen, 'recovered from the buyer', x.own_recovered, "
              "'city share of purchasers with 2+ guns', round(CAST(c.q_repeat AS numeric), 4)",
              "trace", "x.trace_ids", "x.passed"),
           _c("fast_other", "x.pt_fast", "'under 1 year', x.short_other, '1 to 3 years', x.red_other, "
              "'city share under 1 year', round(CAST(c.p_short AS numeric), 4), "
              "'city share under 3 years', round(CAST(c.p_red AS numeric), 4)",
              "trace", "x.fast_ids", "x.short_other + x.red_other"),
           _c("multiple", "x.pt_multiple", "'guns in multiple sales', x.multiple, "
              "'city share of multiple sales', round(CAST(c.p_multiple AS numeric), 4)",
              "trace", "x.multiple_ids", "x.multiple"),
           _c("dealers", "x.pt_dealers", "'dealers', x.dealers", "dealer", "x.dealer_ids", "x.dealers"),
           _c("span", "x.pt_span", "'first fast purchase', x.fast_first, 'last fast purchase', x.fast_last",
              "trace", "x.fast_ids", "x.short_other + x.red_other"),
           _c("corridor", "x.pt_corridor", "'fast guns from I-95 states', x.corridor",
              "trace", "x.corridor_ids", "x.corridor"))},
       %(version)s, now()
FROM (
    SELECT p.*, p.pt_repeat + p.pt_fast + p.pt_multiple + p.pt_dealers + p.pt_span + p.pt_corridor AS score
    FROM (
        SELECT p.*,
               %(wp_repeat)s * greatest(p.passed - 1, 0) * -log(c.q_repeat) AS pt_repeat,
               %(wp_fast_other)s * (p.short_other * -log(c.p_short) + p.red_other * -log(c.p_red)) AS pt_fast,
               %(wp_multiple)s * p.multiple * -log(c.p_multiple) AS pt_multiple,
               %(wp_dealers)s * greatest(p.dealers - 1, 0) AS pt_dealers,
               CASE WHEN p.short_other + p.red_other >= 2
                    THEN %(wp_span)s * ln(1 + (p.fast_last - p.fast_first) / 365.25) ELSE 0 END AS pt_span,
               %(wp_corridor)s * p.corridor AS pt_corridor
        FROM ix_p p CROSS JOIN ix_city c /*scored purchasers*/) p) x
CROSS JOIN ix_city c"""

DEALER_FACTS = """
CREATE TEMP TABLE ix_d ON COMMIT DROP AS
SELECT t.dealer_id,
       CASE WHEN d.in_city THEN 'city' WHEN d.premise_state = %(home)s THEN 'state'
            ELSE coalesce(d.premise_state, '?') END AS peer_group,
       count(*) AS traces, count(*) FILTER (WHERE t.ttc_days IS NOT NULL) AS n,
       count(*) FILTER (WHERE t.ttc_days < %(short)s) AS short_n,
       count(*) FILTER (WHERE t.purchaser_id IS NOT NULL) AS with_purchaser,
       count(*) FILTER (WHERE p.repeat_fast) AS repeat_n,
       count(*) FILTER (WHERE t.multiple_sale) AS multiple_n,
       count(*) FILTER (WHERE t.multiple_sale IS NOT NULL) AS multiple_known,
       count(DISTINCT t.purchaser_id) AS purchasers,
       count(DISTINCT t.purchaser_id) FILTER (WHERE p.repeat_fast) AS repeat_purchasers,
       (array_agg(t.id ORDER BY t.ttc_days, t.id) FILTER (WHERE t.ttc_days < %(short)s))[1:%(ids)s] AS short_ids,
       (array_agg(t.id ORDER BY t.id) FILTER (WHERE p.repeat_fast))[1:%(ids)s] AS repeat_ids,
       (array_agg(t.id ORDER BY t.id) FILTER (WHERE t.multiple_sale))[1:%(ids)s] AS multiple_ids,
       count(DISTINCT t.purchaser_id) FILTER (WHERE ps.score >= %(p_flag)s) AS flagged_buyers,
       (array_agg(DISTINCT t.purchaser_id) FILTER (WHERE ps.score >= %(p_flag)s))[1:%(ids)s] AS flagged_ids
FROM trace t JOIN dealer d ON d.id = t.dealer_id
LEFT JOIN ix_p p ON p.person_id = t.purchaser_id
LEFT JOIN index.purchaser_score ps ON ps.person_id = t.purchaser_id
WHERE TRUE /*dealers*/
GROUP BY t.dealer_id, 2"""

# Peer groups' short-TTC shares, shrunk toward the city's with DEALER_PRIOR_TRACES traces.
PEERS = """
CREATE TEMP TABLE ix_peer ON COMMIT DROP AS
SELECT d.peer_group, sum(d.n) AS n, sum(d.short_n) AS short_n, count(*) AS dealers,
       least(greatest((sum(d.short_n) + %(m)s * c.p_short) / (sum(d.n) + %(m)s), %(lo)s), %(hi)s) AS p_short
FROM ix_d d CROSS JOIN ix_city c GROUP BY d.peer_group, c.p_short"""


def _z(k: str, n: str, p: str) -> str:
    """SQL: empirical-Bayes binomial z of k successes in n against share p (prior weight m0)."""
    return f"(({k}) - ({n}) * ({p})) / sqrt((({n}) + %(m0)s) * ({p}) * (1 - ({p})))"


def _excess(k: str, n: str, p: str) -> str:
    """SQL: a dealer's points for k of n against share p: its excess share shrunk toward p with m0 prior
    traces, (k - n p) / (n + m0), in standard units of a dealer with the reference number of traces.
    Unlike z, chance wanders as much for a big store as for a small one, so a lawful big store at its
    peers' share does not outrank a small one whose guns come back fast."""
    return f"(({k}) - ({n}) * ({p})) / (({n}) + %(m0)s) * sqrt(%(ref)s / (({p}) * (1 - ({p}))))"


DEALER_SCORE = f"""
INSERT INTO index.dealer_score (dealer_id, score, rank, peer_group, traces, short_n, short_share, peer_share,
                                repeat_n, multiple_n, purchasers, z_short, z_repeat, z_multiple, contributions,
                                config_version, computed_at)
SELECT x.dealer_id, x.score, row_number() OVER (ORDER BY x.score DESC, x.traces DESC, x.dealer_id), x.peer_group,
       x.traces, x.short_n, x.short_n::float / nullif(x.n, 0), x.p_short, x.repeat_n, x.multiple_n, x.purchasers,
       x.z_short, x.z_repeat, x.z_multiple,
       {_contributions(
           _c("short", "x.pt_short", "'traces with time-to-crime', x.n, 'under 1 year', x.short_n, "
              "'peer group', x.peer_group, 'peer share under 1 year', round(CAST(x.p_short AS numeric), 4), "
              "'expected under 1 year', round(CAST(x.n * x.p_short AS numeric), 1), 'z', round(CAST(x.z_short AS numeric), 2)",
              "trace", "x.short_ids", "x.short_n"),
           _c("repeat", "x.pt_repeat", "'traces with a purchaser', x.with_purchaser, "
              "'bought by purchasers with 2+ traced guns', x.repeat_n, 'those purchasers', x.repeat_purchasers, "
              "'city share', round(CAST(x.r_repeat AS numeric), 4), 'z', round(CAST(x.z_repeat AS numeric), 2)",
              "trace", "x.repeat_ids", "x.repeat_n"),
           _c("multiple", "x.pt_multiple", "'traces with a sale record', x.multiple_known, "
              "'multiple sales', x.multiple_n, 'city share', round(CAST(x.p_multiple AS numeric), 4), "
              "'z', round(CAST(x.z_multiple AS numeric), 2)",
              "trace", "x.multiple_ids", "x.multiple_n"),
           _c("buyers", "x.pt_buyers", "'flagged purchasers', x.flagged_buyers, 'flag at purchaser score', %(p_flag)s",
              "person", "x.flagged_ids", "x.flagged_buyers"))},
       %(version)s, now()
FROM (
    SELECT y.*, y.pt_short + y.pt_repeat + y.pt_multiple + y.pt_buyers AS score
    FROM (
        SELECT z.*, %(wd_short)s * greatest(coalesce({_excess("z.short_n", "z.n", "z.p_short")}, 0), 0) AS pt_short,
               %(wd_repeat)s * greatest(coalesce({_excess("z.repeat_n", "z.with_purchaser", "z.r_repeat")}, 0), 0)
                   AS pt_repeat,
               %(wd_multiple)s * greatest(coalesce({_excess("z.multiple_n", "z.multiple_known", "z.p_multiple")}, 0), 0)
                   AS pt_multiple,
               %(wd_buyers)s * least(z.flagged_buyers, %(buyers_cap)s) AS pt_buyers
        FROM (
            SELECT d.*, pe.p_short, c.r_repeat, c.p_multiple,
                   {_z("d.short_n", "d.n", "pe.p_short")} AS z_short,
                   {_z("d.repeat_n", "d.with_purchaser", "c.r_repeat")} AS z_repeat,
                   {_z("d.multiple_n", "d.multiple_known", "c.p_multiple")} AS z_multiple
            FROM ix_d d JOIN ix_peer pe USING (peer_group) CROSS JOIN ix_city c) z) y) x"""

STATE_SCORE = f"""
INSERT INTO index.state_score (state, score, rank, traces, short_n, short_share, repeat_n, dealers, corridor,
                               home, z_short, contributions, config_version, computed_at)
SELECT x.state, x.score, row_number() OVER (ORDER BY x.score DESC, x.traces DESC, x.state), x.traces, x.short_n,
       x.short_n::float / nullif(x.n, 0), x.repeat_n, x.dealers, x.corridor, x.home, x.z_short,
       {_contributions(
           _c("short", "x.pt_short", "'traces with time-to-crime', x.n, 'under 1 year', x.short_n, "
              "'city share under 1 year', round(CAST(x.p_short AS numeric), 4), 'z', round(CAST(x.z_short AS numeric), 2)",
              "trace", "x.short_ids", "x.short_n"),
           _c("repeat", "x.pt_repeat", "'bought by flagged purchasers', x.repeat_n, "
              "'city share', round(CAST(x.r_repeat AS numeric), 4), 'z', round(CAST(x.z_repeat AS numeric), 2)",
              "trace", "x.repeat_ids", "x.repeat_n"),
           _c("corridor", "x.pt_corridor", "'I-95 corridor state', x.corridor"))},
       %(version)s, now()
FROM (
    SELECT y.*, y.pt_short + y.pt_repeat + y.pt_corridor AS score
    FROM (
        SELECT z.*, %(ws_short)s * greatest(z.z_short, 0) AS pt_short,
               %(ws_repeat)s * greatest(z.z_repeat, 0) AS pt_repeat,
               CASE WHEN z.corridor THEN %(ws_corridor)s ELSE 0 END AS pt_corridor
        FROM (
            SELECT s.*, c.p_short, fl.r_flag AS r_repeat,
                   {_z("s.short_n", "s.n", "c.p_short")} AS z_short,
                   {_z("s.repeat_n", "s.with_purchaser", "fl.r_flag")} AS z_repeat
            FROM (
                SELECT t.source_state AS state, count(*) AS traces, count(*) FILTER (WHERE t.ttc_days IS NOT NULL) AS n,
                       count(*) FILTER (WHERE t.ttc_days < %(short)s) AS short_n,
                       count(*) FILTER (WHERE t.purchaser_id IS NOT NULL) AS with_purchaser,
                       count(*) FILTER (WHERE ps.score >= %(p_flag)s) AS repeat_n, count(DISTINCT t.dealer_id) AS dealers,
                       t.source_state = ANY(%(corridor)s) AS corridor, t.source_state = %(home)s AS home,
                       (array_agg(t.id ORDER BY t.ttc_days, t.id) FILTER (WHERE t.ttc_days < %(short)s))[1:%(ids)s]
                           AS short_ids,
                       (array_agg(t.id ORDER BY t.id) FILTER (WHERE ps.score >= %(p_flag)s))[1:%(ids)s] AS repeat_ids
                FROM trace t LEFT JOIN index.purchaser_score ps ON ps.person_id = t.purchaser_id
                WHERE t.source_state IS NOT NULL /*states*/ GROUP BY t.source_state) s
            CROSS JOIN ix_city c CROSS JOIN ix_flag fl) z) y) x"""

# The city's share of traces (with a purchaser) bought by flagged purchasers: the source states' baseline.
FLAG_SHARE = """
CREATE TEMP TABLE ix_flag ON COMMIT DROP AS
SELECT least(greatest(count(*) FILTER (WHERE ps.score >= %(p_flag)s)::float / nullif(count(*), 0), %(lo)s), %(hi)s)
           AS r_flag
FROM trace t LEFT JOIN index.purchaser_score ps ON ps.person_id = t.purchaser_id WHERE t.purchaser_id IS NOT NULL"""

STATE_YEAR = """
INSERT INTO index.state_year (state, year, traces, short_n, computed_at)
SELECT t.source_state, extract(year FROM r.recovery_date)::int, count(*), count(*) FILTER (WHERE t.ttc_days < %(short)s),
       now()
FROM trace t JOIN recovery r ON r.trace_id = t.id
WHERE t.source_state IS NOT NULL /*state years*/ GROUP BY 1, 2"""

FIREARM_FACTS = """
CREATE TEMP TABLE ix_f ON COMMIT DROP AS
SELECT f.id AS firearm_id, f.serial_obliterated, coalesce(f.serial_restored, false) AS serial_restored,
       bool_or(t.stolen_from = 'FFL') AS stolen_ffl,
       array_agg(t.id ORDER BY t.id) FILTER (WHERE t.stolen_from = 'FFL') AS stolen_ids,
       count(t.id) AS recoveries, min(t.ttc_days) AS min_ttc,
       bool_or(t.ttc_days < %(red)s AND t.possessor_is_purchaser IS NOT TRUE) AS other_fast,
       bool_or(t.multiple_sale) AS multiple,
       (array_agg(t.source_state ORDER BY t.request_date, t.id) FILTER (WHERE t.source_state IS NOT NULL))[1] AS state,
       (array_agg(t.purchaser_id ORDER BY t.request_date, t.id) FILTER (WHERE t.purchaser_id IS NOT NULL))[1]
           AS purchaser_id,
       (array_agg(t.dealer_id ORDER BY t.request_date, t.id) FILTER (WHERE t.dealer_id IS NOT NULL))[1] AS dealer_id,
       array_agg(t.id ORDER BY t.request_date, t.id) FILTER (WHERE t.id IS NOT NULL) AS trace_ids,
       (array_agg(t.id ORDER BY t.ttc_days, t.id) FILTER (WHERE t.ttc_days IS NOT NULL))[1] AS fastest_trace,
       max(t.request_date) AS last_trace
FROM firearm f LEFT JOIN trace t ON t.firearm_id = f.id
WHERE TRUE /*firearms*/
GROUP BY f.id"""

FIREARM_SCORE = f"""
INSERT INTO index.firearm_score (firearm_id, score, rank, min_ttc, source_state, purchaser_id, dealer_id,
                                 recoveries, nibin_incidents, last_trace, contributions, config_version, computed_at)
SELECT x.firearm_id, x.score, row_number() OVER (ORDER BY x.score DESC, x.firearm_id), x.min_ttc, x.state,
       x.purchaser_id, x.dealer_id, x.recoveries, x.nibin_n, x.last_trace,
       {_contributions(
           _c("ttc", "x.pt_ttc", "'days', x.min_ttc, 'city share at that band or faster', "
              "round(CAST(CASE WHEN x.min_ttc < %(short)s THEN x.p_short ELSE x.p_red END AS numeric), 4)",
              "trace", "ARRAY[x.fastest_trace]", "1"),
           _c("other_hands", "x.pt_other", "'recovered from someone else within 3 years', true",
              "trace", "x.trace_ids", "coalesce(cardinality(x.trace_ids), 0)"),
           _c("multiple", "x.pt_multiple", "'multiple sale', true, 'city share of multiple sales', "
              "round(CAST(x.p_multiple AS numeric), 4)", "trace", "x.trace_ids", "coalesce(cardinality(x.trace_ids), 0)"),
           _c("out_of_state", "x.pt_out", "'source state', x.state", "trace", "x.trace_ids",
              "coalesce(cardinality(x.trace_ids), 0)"),
           _c("corridor", "x.pt_corridor", "'source state', x.state"),
           _c("obliterated", "x.pt_obliterated", "'serial obliterated', true", "firearm", "ARRAY[x.firearm_id]", "1"),
           _c("restored", "x.pt_restored", "'serial restored by the lab', true", "firearm", "ARRAY[x.firearm_id]", "1"),
           _c("stolen_ffl", "x.pt_stolen", "'reported stolen from a dealer', true", "trace", "x.stolen_ids",
              "coalesce(cardinality(x.stolen_ids), 0)"),
           _c("repeat_recovery", "x.pt_recovery", "'recoveries', x.recoveries", "trace", "x.trace_ids", "x.recoveries"),
           _c("nibin", "x.pt_nibin", "'NIBIN-linked incidents', x.nibin_n", "incident", "x.nibin_ids", "x.nibin_n"),
           _c("purchaser", "x.pt_purchaser", "'purchaser score', round(CAST(x.p_score AS numeric), 2), "
              "'purchaser rank', x.p_rank", "person", "ARRAY[x.purchaser_id]", "1"),
           _c("dealer", "x.pt_dealer", "'dealer score', round(CAST(x.d_score AS numeric), 2), 'dealer rank', x.d_rank",
              "dealer", "ARRAY[x.dealer_id]", "1"))},
       %(version)s, now()
FROM (
    SELECT y.*, y.pt_ttc + y.pt_other + y.pt_multiple + y.pt_out + y.pt_corridor + y.pt_obliterated + y.pt_restored
                + y.pt_stolen + y.pt_recovery + y.pt_nibin + y.pt_purchaser + y.pt_dealer AS score
    FROM (
        SELECT f.*, c.p_short, c.p_red, c.p_multiple, coalesce(nb.n, 0) AS nibin_n, nb.ids AS nibin_ids,
               ps.score AS p_score, ps.rank AS p_rank, ds.score AS d_score, ds.rank AS d_rank,
               %(wf_ttc)s * CASE WHEN f.min_ttc < %(short)s THEN -log(c.p_short)
                                 WHEN f.min_ttc < %(red)s THEN -log(c.p_red) ELSE 0 END AS pt_ttc,
               CASE WHEN f.other_fast THEN %(wf_other_hands)s ELSE 0 END AS pt_other,
               CASE WHEN f.multiple THEN %(wf_multiple)s * -log(c.p_multiple) ELSE 0 END AS pt_multiple,
               CASE WHEN f.state <> %(home)s THEN %(wf_out_of_state)s ELSE 0 END AS pt_out,
               CASE WHEN f.state = ANY(%(corridor)s) THEN %(wf_corridor)s ELSE 0 END AS pt_corridor,
               CASE WHEN f.serial_obliterated THEN %(wf_obliterated)s ELSE 0 END AS pt_obliterated,
               CASE WHEN f.serial_obliterated AND f.serial_restored THEN %(wf_restored)s ELSE 0 END AS pt_restored,
               CASE WHEN f.stolen_ffl THEN %(wf_stolen_ffl)s ELSE 0 END AS pt_stolen,
               %(wf_repeat_recovery)s * greatest(f.recoveries - 1, 0) AS pt_recovery,
               %(wf_nibin)s * least(greatest(coalesce(nb.n, 0) - 1, 0), %(nibin_cap)s) AS pt_nibin,
               %(wf_purchaser)s * least(coalesce(ps.score, 0), %(p_cap)s) / %(p_cap)s AS pt_purchaser,
               %(wf_dealer)s * least(coalesce(ds.score, 0), %(d_cap)s) / %(d_cap)s AS pt_dealer
        FROM ix_f f CROSS JOIN ix_city c
        LEFT JOIN (SELECT firearm_id, count(*) AS n, (array_agg(incident_id ORDER BY incident_id))[1:%(ids)s] AS ids
                   FROM firearm_incident WHERE via = 'nibin' GROUP BY firearm_id) nb ON nb.firearm_id = f.firearm_id
        LEFT JOIN index.purchaser_score ps ON ps.person_id = f.purchaser_id
        LEFT JOIN index.dealer_score ds ON ds.dealer_id = f.dealer_id) y) x"""

# NIBIN gun groups with casings from two or more incidents and no recovered, test-fired gun.
UNRECOVERED = """
INSERT INTO index.unrecovered (gun_group, incidents, shootings, caliber, first_date, last_date, latest_incident,
                               incident_ids, districts, computed_at)
SELECT e.gun_group, count(DISTINCT e.incident_id), count(DISTINCT i.id) FILTER (WHERE i.category IN ('homicide', 'shooting')),
       max(e.caliber), min(i.crime_datetime AT TIME ZONE 'America/New_York')::date,
       max(i.crime_datetime AT TIME ZONE 'America/New_York')::date,
       (array_agg(e.incident_id ORDER BY i.crime_datetime DESC))[1],
       (array_agg(DISTINCT e.incident_id))[1:%(ids)s],
       array_agg(DISTINCT i.district) FILTER (WHERE i.district IS NOT NULL), now()
FROM ballistic_evidence e JOIN incident i ON i.id = e.incident_id
WHERE e.gun_group IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM ballistic_evidence x WHERE x.gun_group = e.gun_group
                  AND (x.evidence_type = 'TEST_FIRE' OR x.firearm_id IS NOT NULL))
GROUP BY e.gun_group HAVING count(DISTINCT e.incident_id) >= 2"""

STEPS: tuple[tuple[str, str], ...] = (
    ("purchaser facts", PURCHASER_FACTS),
    ("city baselines", CITY),
    ("purchaser scores", PURCHASER_SCORE),
    ("dealer facts", DEALER_FACTS),
    ("dealer peer groups", PEERS),
    ("dealer scores", DEALER_SCORE),
    ("flagged purchasers' share", FLAG_SHARE),
    ("source states", STATE_SCORE),
    ("flows by year", STATE_YEAR),
    ("firearm facts", FIREARM_FACTS),
    ("firearm scores", FIREARM_SCORE),
    ("unrecovered NIBIN groups", UNRECOVERED),
)
