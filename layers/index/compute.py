"""The trafficking index, computed in SQL on the write path (etl/index.py runs it after derive()).

Every baseline comes from the loaded city's own data, measured in the same transaction:
- the city's share of traces under one year and under three years (time-to-crime bands), of multiple
  sales, of purchasers with two or more traced guns and of traces bought by such purchasers;
- each dealer peer group's short-TTC share (dealers in the city, elsewhere in the home state, and per
  other state), shrunk toward the city's share.
An indicator's points are its weight (layers/index/weights.py) times how rare it is in this city
(-log10 of the city's share). A purchaser's guns count only when they left the buyer's hands
unreported: guns recovered from the buyer and guns the buyer reported stolen before the trace (a
burglary victim's) say nothing about trafficking. Dealers are scored on the excess of their shares over
their peers' (or the city's), shrunk with m prior traces, (k - n p) / (n + m), in standard units of a
dealer of reference size, so a big store at the usual time-to-crime scores near zero however many
traces it has, and a small one whose guns come back fast does not; a dealer also counts the flagged
purchasers it sold traced guns to. Source states: the empirical-Bayes z of their counts,
z = (k - n p) / sqrt((n + m) p (1 - p)). Each contribution keeps its figures and the ids of the rows
behind it.

Tables in the `index` schema (migration 0006): firearm_score, purchaser_score, dealer_score,
state_score, state_year (flows), unrecovered (NIBIN groups without a gun), computation (the baselines
of the latest run). Each score row carries the config version and the time it was computed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import psycopg

from layers import settings
from layers.index import weights as W

SCORE_TABLES = ("firearm_score", "purchaser_score", "dealer_score", "state_score", "state_year", "unrecovered")


def _params() -> dict[str, Any]:
    return {"short": W.SHORT_TTC_DAYS, "red": W.RED_FLAG_TTC_DAYS, "corridor": list(W.I95_STATES),
            "ids": W.ROW_IDS, "home": settings.get("CGA_HOME_STATE"), "version": W.VERSION,
            "ref": W.DEALER_REFERENCE_TRACES, "lo": W.MIN_RATE, "hi": W.MAX_RATE, "m": W.DEALER_PRIOR_TRACES, "m0": W.EB_PRIOR_WEIGHT,
            **{f"wp_{k}": v for k, v in W.PURCHASER.items()}, **{f"wd_{k}": v for k, v in W.DEALER.items()},
            **{f"wf_{k}": v for k, v in W.FIREARM.items()}, **{f"ws_{k}": v for k, v in W.STATE.items()},
            "nibin_cap": W.NIBIN_CAP, "p_flag": W.PURCHASER_FLAG, "buyers_cap": W.FLAGGED_BUYERS_CAP, "p_cap": W.PURCHASER_CAP, "d_cap": W.DEALER_CAP}


def _contributions(*items: str) -> str:
    """SQL: a jsonb array of the non-null contribution objects, largest first."""
    return f"""(SELECT coalesce(jsonb_agg(c ORDER BY (c->>'points')::float DESC), '[]'::jsonb)
                FROM unnest(ARRAY[{', '.join(items)}]::jsonb[]) c WHERE c IS NOT NULL)"""


def _c(key: str, points: str, figures: str, kind: str | None = None, ids: str | None = None,
       n: str | None = None) -> str:
    """SQL: one contribution object when its points are positive."""
    rows = (f", 'rows', jsonb_build_object('kind', '{kind}', 'ids', to_jsonb({ids}), 'n', {n})"
            if kind else "")
    return f"""CASE WHEN ({points}) > 0 THEN jsonb_build_object('key', '{key}',
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


def _run_steps(conn: psycopg.Connection, steps, params: dict[str, Any], scopes: dict[str, str],
               echo: Callable[[str], None] | None, timings: dict[str, float]) -> None:
    for name, sql in steps:
        for marker, condition in scopes.items():
            sql = sql.replace(f"/*{marker}*/", condition)
        started = time.perf_counter()
        for statement in sql.split(";"):
            conn.execute(statement, params)
        if name in ("purchaser facts", "dealer facts", "firearm facts"):
            conn.execute(f"ANALYZE {'ix_p' if name.startswith('purchaser') else 'ix_d' if name.startswith('dealer') else 'ix_f'}")
        timings[f"index: {name}"] = time.perf_counter() - started
        if echo:
            echo(f"  index: {name} ({timings[f'index: {name}']:.1f}s)")


def _record(conn: psycopg.Connection, started: float, mode: str, extra: dict[str, Any]) -> None:
    city = conn.execute("SELECT to_jsonb(c) || jsonb_build_object('r_flag', (SELECT r_flag FROM ix_flag)) FROM ix_city c"
                        ).fetchone()[0]
    peers = {r[0]: {"traces": int(r[1]), "short": int(r[2]), "dealers": int(r[3]), "share": float(r[4])}
             for r in conn.execute("SELECT peer_group, n, short_n, dealers, p_short FROM ix_peer")}
    counts = {t: conn.execute(f"SELECT count(*) FROM index.{t}").fetchone()[0] for t in SCORE_TABLES}
    seconds = time.perf_counter() - started
    conn.execute("""INSERT INTO index.computation (config_version, seconds, baselines, counts)
                    VALUES (%s, %s, %s, %s)""",
                 (W.VERSION, seconds, json.dumps({"city": city, "peer_groups": peers, "weights": weights_doc(),
                                                  "mode": mode, **extra}, default=str), json.dumps(counts)))


def refresh(conn: psycopg.Connection, echo: Callable[[str], None] | None = None,
            reason: str = "asked") -> dict[str, float]:
    """Recompute every score table inside the caller's transaction (readers see the old scores until it
    commits); return seconds per step. Analysts' reviews (index.review) are never touched. `reason` (why
    not incrementally) is kept with the computation."""
    params = _params()
    timings: dict[str, float] = {}
    started_all = time.perf_counter()
    for table in SCORE_TABLES:
        conn.execute(f"DELETE FROM index.{table}")
    _run_steps(conn, STEPS, params, {}, echo, timings)
    traces = conn.execute("SELECT count(*) FROM trace").fetchone()[0]
    _record(conn, started_all, "full", {"traces_at_full": traces, "traces": traces, "reason": reason})
    return timings


# --- Incremental: recompute what a trace load touched, against the baselines of the last computation ---

# The touched records of the runs: their purchasers, dealers (and the dealers those purchasers bought
# from, whose flagged buyers may change), firearms (and the guns of touched purchasers and dealers, whose
# purchaser and dealer points change), source states and (state, year) flows.
TOUCHED = """
CREATE TEMP TABLE ix_tp ON COMMIT DROP AS
    SELECT DISTINCT purchaser_id AS person_id FROM trace WHERE run_id = ANY(%(runs)s) AND purchaser_id IS NOT NULL;
CREATE TEMP TABLE ix_td ON COMMIT DROP AS
    SELECT DISTINCT t.dealer_id FROM trace t
    WHERE t.dealer_id IS NOT NULL AND (t.run_id = ANY(%(runs)s) OR t.purchaser_id IN (SELECT person_id FROM ix_tp));
CREATE TEMP TABLE ix_ts ON COMMIT DROP AS
    SELECT DISTINCT source_state AS state FROM trace WHERE run_id = ANY(%(runs)s) AND source_state IS NOT NULL;
-- Purchasers whose facts the touched dealers need (their repeat-buyer flag).
CREATE TEMP TABLE ix_np ON COMMIT DROP AS
    SELECT DISTINCT t.purchaser_id AS person_id FROM trace t
    WHERE t.purchaser_id IS NOT NULL AND (t.purchaser_id IN (SELECT person_id FROM ix_tp)
          OR t.dealer_id IN (SELECT dealer_id FROM ix_td));
-- The scores before: guns are recomputed where their purchaser's or dealer's score changed.
CREATE TEMP TABLE ix_old ON COMMIT DROP AS
    SELECT 'p' AS kind, person_id AS id, score FROM index.purchaser_score WHERE person_id IN (SELECT person_id FROM ix_tp)
    UNION ALL SELECT 'd', dealer_id, score FROM index.dealer_score WHERE dealer_id IN (SELECT dealer_id FROM ix_td);
CREATE TEMP TABLE ix_ty ON COMMIT DROP AS
    SELECT DISTINCT t.source_state AS state, extract(year FROM r.recovery_date)::int AS year
    FROM trace t JOIN recovery r ON r.trace_id = t.id WHERE t.run_id = ANY(%(runs)s) AND t.source_state IS NOT NULL"""

# The touched guns: the load's own, and those whose purchaser's or dealer's score changed.
TOUCHED_FIREARMS = """
CREATE TEMP TABLE ix_changed ON COMMIT DROP AS
    SELECT o.kind, o.id FROM ix_old o
    LEFT JOIN index.purchaser_score p ON o.kind = 'p' AND p.person_id = o.id
    LEFT JOIN index.dealer_score d ON o.kind = 'd' AND d.dealer_id = o.id
    WHERE coalesce(p.score, d.score, -1) IS DISTINCT FROM o.score
    UNION ALL SELECT 'p', person_id FROM ix_tp WHERE person_id NOT IN (SELECT id FROM ix_old WHERE kind = 'p')
    UNION ALL SELECT 'd', dealer_id FROM ix_td WHERE dealer_id NOT IN (SELECT id FROM ix_old WHERE kind = 'd');
CREATE TEMP TABLE ix_tf ON COMMIT DROP AS
    SELECT DISTINCT t.firearm_id FROM trace t
    WHERE t.run_id = ANY(%(runs)s) OR t.purchaser_id IN (SELECT id FROM ix_changed WHERE kind = 'p')
       OR t.dealer_id IN (SELECT id FROM ix_changed WHERE kind = 'd');
DELETE FROM index.firearm_score WHERE firearm_id IN (SELECT firearm_id FROM ix_tf)"""

# The city's and the peer groups' baselines as the last computation measured them.
STORED_BASELINES = """
CREATE TEMP TABLE ix_city ON COMMIT DROP AS
SELECT (j->>'p_short')::float AS p_short, (j->>'p_red')::float AS p_red, (j->>'p_multiple')::float AS p_multiple,
       (j->>'q_repeat')::float AS q_repeat, (j->>'r_repeat')::float AS r_repeat,
       (j->>'n_ttc')::bigint AS n_ttc, (j->>'n_short')::bigint AS n_short, (j->>'n_red')::bigint AS n_red,
       (j->>'n_multiple')::bigint AS n_multiple, (j->>'n_multiple_known')::bigint AS n_multiple_known,
       (j->>'purchasers')::bigint AS purchasers, (j->>'repeaters')::bigint AS repeaters,
       (j->>'purchaser_traces')::bigint AS purchaser_traces, (j->>'repeat_traces')::bigint AS repeat_traces
FROM (SELECT CAST(%(city)s AS jsonb) AS j) x;
CREATE TEMP TABLE ix_peer ON COMMIT DROP AS
SELECT key AS peer_group, (value->>'traces')::bigint AS n, (value->>'short')::bigint AS short_n,
       (value->>'dealers')::bigint AS dealers, (value->>'share')::float AS p_short
FROM jsonb_each(CAST(%(peers)s AS jsonb));
CREATE TEMP TABLE ix_flag ON COMMIT DROP AS SELECT (CAST(%(city)s AS jsonb)->>'r_flag')::float AS r_flag"""

# The trace-level shares now, to see whether the baselines moved.
SHARES_NOW = """
SELECT count(*), count(*) FILTER (WHERE ttc_days IS NOT NULL), count(*) FILTER (WHERE ttc_days < %(short)s),
       count(*) FILTER (WHERE ttc_days < %(red)s), count(*) FILTER (WHERE multiple_sale),
       count(*) FILTER (WHERE multiple_sale IS NOT NULL)
FROM trace"""

RANKS = {
    "purchaser_score": ("person_id", "score DESC, guns DESC, person_id"),
    "dealer_score": ("dealer_id", "score DESC, traces DESC, dealer_id"),
    "firearm_score": ("firearm_id", "score DESC, firearm_id"),
    "state_score": ("state", "score DESC, traces DESC, state"),
}

INCREMENTAL_STEPS: tuple[tuple[str, str], ...] = (
    ("purchaser facts", PURCHASER_FACTS),
    ("purchaser scores", PURCHASER_SCORE),
    ("dealer facts", DEALER_FACTS),
    ("dealer scores", DEALER_SCORE),
    ("source states", STATE_SCORE),
    ("flows by year", STATE_YEAR),
    ("touched guns", TOUCHED_FIREARMS),
    ("firearm facts", FIREARM_FACTS),
    ("firearm scores", FIREARM_SCORE),
    ("unrecovered NIBIN groups", UNRECOVERED),
)
INCREMENTAL_SCOPES = {
    "purchasers": "AND t.purchaser_id IN (SELECT person_id FROM ix_np)",
    "scored purchasers": "WHERE p.person_id IN (SELECT person_id FROM ix_tp)",
    "dealers": "AND t.dealer_id IN (SELECT dealer_id FROM ix_td)",
    "states": "AND t.source_state IN (SELECT state FROM ix_ts)",
    "state years": "AND (t.source_state, extract(year FROM r.recovery_date)::int) IN (SELECT state, year FROM ix_ty)",
    "firearms": "AND f.id IN (SELECT firearm_id FROM ix_tf)",
}
INCREMENTAL_DELETES = (
    "DELETE FROM index.purchaser_score WHERE person_id IN (SELECT person_id FROM ix_tp)",
    "DELETE FROM index.dealer_score WHERE dealer_id IN (SELECT dealer_id FROM ix_td)",
    "DELETE FROM index.state_score WHERE state IN (SELECT state FROM ix_ts)",
    "DELETE FROM index.state_year WHERE (state, year) IN (SELECT state, year FROM ix_ty)",
    "DELETE FROM index.unrecovered",
)


def baseline_drift(conn: psycopg.Connection) -> tuple[dict[str, Any] | None, str | None]:
    """The last computation's baselines, and why they cannot serve an incremental recompute (None: they
    can): no computation yet, other weights, too many traces since the last whole recompute, or a
    trace-level share that moved by more than the tolerance."""
    last = conn.execute("SELECT config_version, baselines FROM index.computation ORDER BY id DESC LIMIT 1").fetchone()
    if (last is None or last[0] != W.VERSION or "r_flag" not in (last[1] or {}).get("city", {})
            or "traces_at_full" not in last[1]):
        return None, "no earlier computation with these weights"
    base = last[1]
    total, n_ttc, n_short, n_red, n_mult, n_mult_known = conn.execute(SHARES_NOW, _params()).fetchone()
    at_full = int(base["traces_at_full"]) or 1
    if abs(total - at_full) > W.INCREMENTAL_MAX_NEW_SHARE * at_full:
        return base, f"{abs(total - at_full):,} traces changed since the last whole recompute (of {at_full:,})"
    city = base["city"]
    for name, now in (("p_short", n_short / n_ttc if n_ttc else None), ("p_red", n_red / n_ttc if n_ttc else None),
                      ("p_multiple", n_mult / n_mult_known if n_mult_known else None)):
        was = city.get(name)
        if now is None or was is None:
            return base, f"the city's {name} is unknown"
        now = min(max(now, W.MIN_RATE), W.MAX_RATE)
        if abs(math.log10(now / was)) > W.BASELINE_TOLERANCE:  # its rarity, the points per occurrence
            return base, f"the city's {name} moved from {was:.4f} to {now:.4f}"
    return base, None


def refresh_touched(conn: psycopg.Connection, run_ids: list[int],
                    echo: Callable[[str], None] | None = None) -> tuple[dict[str, float] | None, str | None]:
    """Recompute only the records the runs' traces touched, against the stored baselines, inside the
    caller's transaction; re-rank every table. Returns (seconds per step, None), or (None, why) with nothing
    done when the baselines moved too far or a touched dealer falls in a peer group the baselines do not
    know: the caller recomputes everything."""
    started_all = time.perf_counter()
    base, why = baseline_drift(conn)
    if why is not None:
        if echo:
            echo(f"  index: whole recompute ({why})")
        return None, why
    params = {**_params(), "runs": list(run_ids), "city": json.dumps(base["city"]),
              "peers": json.dumps(base["peer_groups"])}
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for sql in (*TOUCHED.split(";"), *STORED_BASELINES.split(";")):
        conn.execute(sql, params)
    unknown = conn.execute("""
        SELECT count(*) FROM ix_td t JOIN dealer d ON d.id = t.dealer_id
        WHERE (CASE WHEN d.in_city THEN 'city' WHEN d.premise_state = %(home)s THEN 'state'
                    ELSE coalesce(d.premise_state, '?') END) NOT IN (SELECT peer_group FROM ix_peer)""", params).fetchone()[0]
    if unknown:
        for t in ("ix_tp", "ix_td", "ix_ts", "ix_np", "ix_old", "ix_ty", "ix_city", "ix_peer", "ix_flag"):
            conn.execute(f"DROP TABLE {t}")
        if echo:
            echo("  index: whole recompute (a dealer in a new peer group)")
        return None, "a dealer in a new peer group"
    for sql in INCREMENTAL_DELETES:
        conn.execute(sql)
    timings["index: touched records"] = time.perf_counter() - started
    _run_steps(conn, INCREMENTAL_STEPS, params, INCREMENTAL_SCOPES, echo, timings)
    started = time.perf_counter()
    for table, (key, order) in RANKS.items():
        conn.execute(f"""UPDATE index.{table} s SET rank = r.rn
                         FROM (SELECT {key}, row_number() OVER (ORDER BY {order}) AS rn FROM index.{table}) r
                         WHERE s.{key} = r.{key} AND s.rank IS DISTINCT FROM r.rn""")
    timings["index: ranks"] = time.perf_counter() - started
    touched = {name: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for name, t in (("purchasers", "ix_tp"), ("dealers", "ix_td"), ("firearms", "ix_tf"), ("states", "ix_ts"))}
    total = conn.execute("SELECT count(*) FROM trace").fetchone()[0]
    _record(conn, started_all, "incremental", {"traces_at_full": base["traces_at_full"], "traces": total,
                                               "runs": list(run_ids), "touched": touched})
    return timings, None


def weights_doc() -> dict[str, Any]:
    return {"version": W.VERSION, "purchaser": W.PURCHASER, "dealer": W.DEALER, "firearm": W.FIREARM,
            "state": W.STATE, "short_ttc_days": W.SHORT_TTC_DAYS, "red_flag_ttc_days": W.RED_FLAG_TTC_DAYS,
            "i95_states": list(W.I95_STATES), "dealer_prior_traces": W.DEALER_PRIOR_TRACES,
            "eb_prior_weight": W.EB_PRIOR_WEIGHT, "dealer_reference_traces": W.DEALER_REFERENCE_TRACES, "purchaser_flag": W.PURCHASER_FLAG, "caps": {"buyers": W.FLAGGED_BUYERS_CAP, "nibin": W.NIBIN_CAP, "purchaser": W.PURCHASER_CAP,
                                                            "dealer": W.DEALER_CAP}}


def rarity(share: float) -> float:
    """Points per occurrence of an indicator with this city share (-log10)."""
    return -math.log10(min(max(share, W.MIN_RATE), W.MAX_RATE))
