"""The printable district briefing: one page per district, rendered on the server and audited as an export.

Each page: the district's outline among the others, its counts for the map's dates against the same dates a
year earlier (change, per 1,000 residents), the top shooting blocks and the source states of the guns
recovered there. The numbers come from the same gate as the map (`district_panel`), so a press viewer's
briefing holds only what press may see: small counts suppressed and no blocks. HTML printed to PDF by
headless Chromium (`dashboard.charts.exports.html_to_pdf`).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from typing import Any

from dashboard.charts.exports import Export, html_to_pdf
from layers import access, district_panel, districts, public_stats
from layers.map_filters import MapFilters

PRODUCT = "Crime Gun Atlas"
CSS = """
@page { size: Letter; margin: 12mm 14mm; }
* { box-sizing: border-box; }
body { font-family: 'Liberation Sans', Arial, Helvetica, sans-serif; color: #222; margin: 0; font-size: 10pt; }
.page { break-inside: avoid; }
.page + .page { break-before: page; }
h1 { font-size: 18pt; margin: 0 0 1mm; }
h2 { font-size: 11.5pt; margin: 4mm 0 1.5mm; }
.meta { color: #555; margin: 0 0 3mm; }
.top { display: flex; gap: 6mm; align-items: flex-start; }
.outline { width: 62mm; flex: none; border: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 1.2mm 2mm; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cols { display: flex; gap: 8mm; }
.cols > div { flex: 1; }
.foot { font-size: 8pt; color: #555; margin-top: 5mm; border-top: 1px solid #ddd; padding-top: 2mm; }
"""


def _n(value: int | None) -> str:
    return f"<{access.small_count_threshold()}" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    if value is None:
        return "–"
    return "±0%" if abs(value) < 0.5 else f"{value:+.0f}%"


def outline_svg(outlines: dict, name: str, width: int = 240) -> str:
    """Every district outline in grey with `name` filled: an equirectangular sketch scaled by cos(latitude)."""
    rings: list[tuple[str, list[list[tuple[float, float]]]]] = []
    for f in outlines.get("features", []):
        geom = f.get("geometry") or {}
        polys = [geom["coordinates"]] if geom.get("type") == "Polygon" else geom.get("coordinates", []) \
            if geom.get("type") == "MultiPolygon" else []
        for poly in polys:
            rings.append((f["properties"]["name"], [[(x, y) for x, y, *_ in ring] for ring in poly]))
    pts = [p for _, poly in rings for ring in poly for p in ring]
    if not pts:
        return ""
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    k = math.cos(math.radians((y0 + y1) / 2))
    scale = width / max((x1 - x0) * k, 1e-9)
    height = max(1, round((y1 - y0) * scale))
    paths = []
    for district, poly in rings:
        d = " ".join("M" + " L".join(f"{(x - x0) * k * scale:.1f},{(y1 - y) * scale:.1f}" for x, y in ring) + " Z"
                     for ring in poly)
        fill = "#c53030" if district == name else "#edf2f7"
        paths.append(f"<path d='{d}' fill='{fill}' stroke='#4a5568' stroke-width='0.6' fill-rule='evenodd'/>")
    return (f"<svg class='outline' viewBox='-2 -2 {width + 4} {height + 4}' xmlns='http://www.w3.org/2000/svg' "
            f"role='img' aria-label='{html.escape(name.title())} district among the city's districts'>"
            + "".join(paths) + "</svg>")


def _page(row: dict[str, Any], panel: dict[str, Any], outline: str, filters: MapFilters, viewer: access.Viewer,
          as_of: str) -> str:
    e = html.escape
    before = filters.shifted_years(-1)
    name = row["district"].title()
    counts = ["<tr><th>Measure</th><th class='num'>Now</th><th class='num'>Year earlier</th>"
              "<th class='num'>Change</th><th class='num'>Per 1,000</th></tr>"]
    for key, label in district_panel.TABLE_MEASURES.items():
        rate = row[f"{key}_rate"]
        counts.append(f"<tr><td>{e(label)}</td><td class='num'>{_n(row[key])}</td>"
                      f"<td class='num'>{_n(row[f'{key}_before'])}</td><td class='num'>{_pct(row[f'{key}_change'])}</td>"
                      f"<td class='num'>{'' if rate is None else f'{rate:.2f}'}</td></tr>")
    blocks = ""
    if panel["top_shown"]:
        items = "".join(f"<tr><td>{e(p['location'])}</td><td class='num'>{p['n']:,}</td><td>{e(p['latest'])}</td></tr>"
                        for p in panel["top_locations"])
        blocks = ("<div><h2>Top shooting blocks</h2><table><tr><th>Block</th><th class='num'>Shootings</th>"
                  f"<th>Latest</th></tr>{items or '<tr><td colspan=3>None in these dates.</td></tr>'}</table></div>")
    total = row["recoveries"]  # every recovery of the district in the dates (None when suppressed)
    states = ""
    for s in panel["source_states"][:8]:
        share = "" if s["n"] is None or not total else f"{100.0 * s['n'] / total:.0f}%"
        states += f"<tr><td>{e(s['state'])}</td><td class='num'>{_n(s['n'])}</td><td class='num'>{share}</td></tr>"
    sources = ("<div><h2>Where its recovered guns were first sold</h2><table><tr><th>State</th>"
               f"<th class='num'>Guns</th><th class='num'>Share</th></tr>"
               f"{states or '<tr><td colspan=3>No recoveries in these dates.</td></tr>'}</table></div>")
    pop = f"Population {row['population']:,}" if row["population"] else "Population not known"
    rule = ""
    if not viewer.can("points"):
        t = access.small_count_threshold()
        rule = f" Counts from 1 to {t - 1} are shown as “&lt;{t}”."
    return (f"<section class='page'><h1>{e(name)} district</h1>"
            f"<p class='meta'>{filters.start:%d %b %Y} – {filters.end:%d %b %Y}, compared with {before.start:%d %b %Y} – "
            f"{before.end:%d %b %Y} · {e(pop)}</p>"
            f"<div class='top'>{outline}<div style='flex:1'><h2 style='margin-top:0'>Counts</h2>"
            f"<table>{''.join(counts)}</table></div></div>"
            f"<div class='cols'>{blocks}{sources}</div>"
            f"<p class='foot'>{PRODUCT} district briefing · data as of {e(as_of)} · prepared for the {e(viewer.role or '')} "
            f"role on {dt.date.today():%Y-%m-%d}. Points are counted in the district in force on their own date."
            f"{rule}</p></section>")


def briefing_html(filters: MapFilters, names: Sequence[str] | None = None,
                  viewer: access.Viewer | None = None) -> tuple[str, list[str]]:
    """The briefing document and the districts it covers (the filter's districts, or every district)."""
    viewer = access.require("map", viewer)
    with access.use_viewer(viewer):
        table = {r["district"]: r for r in district_panel.district_table(filters, viewer)}
        chosen = [n for n in (names or filters.districts or sorted(table)) if n in table]
        outlines = districts.boundaries_geojson("district", filters.start, filters.end)
        unscoped = MapFilters(**{**filters.__dict__, "districts": ()})
        last = public_stats.data_as_of() if viewer.can("charts") else None
        as_of = f"{last:%d %b %Y}" if last else "unknown"
        pages = [_page(table[n], district_panel.district_panel(n, unscoped), outline_svg(outlines, n), filters,
                       viewer, as_of) for n in chosen]
    if not pages:
        pages = ["<section class='page'><h1>District briefing</h1><p>No district matches these filters.</p></section>"]
    doc = ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>District briefing</title>"
           f"<style>{CSS}</style></head><body>{''.join(pages)}</body></html>")
    return doc, chosen


def export_briefing(filters: MapFilters, names: Sequence[str] | None = None,
                    viewer: access.Viewer | None = None) -> Export:
    """The briefing as PDF for the viewer, written to the audit trail as an export before it is handed out."""
    from layers.access import audit

    viewer = access.require("map", viewer)
    doc, chosen = briefing_html(filters, names, viewer)
    content = html_to_pdf(doc)
    audit.record(viewer, "export", kind="briefing", ids=chosen,
                 detail={"format": "pdf", "start": filters.start.isoformat(), "end": filters.end.isoformat(),
                         "districts": chosen, "pages": max(1, len(chosen)),
                         "suppressed": not viewer.can("points")})
    return Export(f"crime-gun-atlas-district-briefing-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.pdf", content,
                  "application/pdf")
