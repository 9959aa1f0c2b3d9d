"""Server-rendered exports of the public charts: PNG, SVG, PDF, CSV, and one press-packet PDF.

Images are rendered on the server with kaleido (headless Chromium), never in the browser, so what is
published is exactly what the server computed under the viewer's role (small counts suppressed). The
packet is one HTML document — a cover with the filters, the data-as-of date, every method note and the
suppression rule, then one page per chart — printed to PDF by headless Chromium.

Every export is a dissemination and is written to the audit trail (`audit.event`, event 'export')
before its bytes are handed out; if the audit row cannot be written, the export fails.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.io as pio

from dashboard.charts import figures as public_charts
from layers import access, public_stats

FORMATS = ("png", "svg", "pdf", "csv")
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "csv": "text/csv"}
CHROMIUM = os.environ.get("CGA_CHROMIUM", "/usr/bin/chromium")
PRINT_TIMEOUT_S = 90


@dataclass(frozen=True)
class Export:
    filename: str
    content: bytes
    mime: str


def figure_bytes(fig, fmt: str, scale: float = 2.0) -> bytes:
    """The figure rendered on the server as png, svg or pdf (kaleido)."""
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"unknown image format {fmt!r}: png, svg or pdf")
    return pio.to_image(fig, format=fmt, scale=scale if fmt == "png" else 1)


def figures_svg(figs: Sequence[Any]) -> list[bytes]:
    """Several figures as SVG in one renderer session (one browser start instead of one per figure)."""
    if not figs:
        return []
    work = Path(tempfile.mkdtemp(prefix="cga-svg-"))
    try:
        files = [work / f"{i}.svg" for i in range(len(figs))]
        pio.write_images(fig=list(figs), file=files, format="svg")
        return [f.read_bytes() for f in files]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cell(value: Any, is_count: bool, mark: str) -> Any:
    if value is None:
        return mark if is_count else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def csv_bytes(rows: Sequence[dict[str, Any]], header_lines: Iterable[str],
              count_columns: Iterable[str] = ()) -> bytes:
    """CSV (UTF-8) opening with `# ` comment lines, then a header row and the rows. A suppressed count (None in
    one of `count_columns`) is written as "<threshold"; other missing values as an empty cell."""
    mark = f"<{access.small_count_threshold()}"
    counts = set(count_columns)
    out = io.StringIO()
    for line in header_lines:
        for part in str(line).splitlines() or [""]:
            out.write(f"# {part}\n")
    columns = list(rows[0]) if rows else []
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c), c in counts, mark) for c in columns])
    return out.getvalue().encode("utf-8")


PACKET_CSS = """
@page { size: Letter; margin: 12mm 14mm; }
* { box-sizing: border-box; }
body { font-family: 'Liberation Sans', Arial, Helvetica, sans-serif; color: #222; margin: 0; font-size: 10.5pt; }
.page { break-inside: avoid; }
.page + .page { break-before: page; }
h1 { font-size: 20pt; margin: 0 0 4mm; }
h2 { font-size: 13pt; margin: 0 0 2mm; }
.meta { margin: 0 0 4mm; }
.meta dt { font-weight: bold; float: left; width: 32mm; clear: left; }
.meta dd { margin: 0 0 1mm 34mm; }
.notes { font-size: 9pt; margin: 0; padding-left: 5mm; }
.notes li { margin-bottom: 1.6mm; }
.rule { font-size: 9.5pt; border-left: 3px solid #1f4e79; padding-left: 3mm; margin: 3mm 0; }
.chart img { width: 100%; height: auto; border: 1px solid #ddd; }
.note { font-size: 9.5pt; margin-top: 3mm; }
.foot { font-size: 8.5pt; color: #555; margin-top: 2mm; }
"""


def _packet_html(figures_with_notes: Sequence[tuple[Any, str, str]], title: str, filters_text: str,
                 data_as_of: str, date_range: str, suppression: str) -> str:
    e = html.escape
    cover = [f"<h1>{e(title)}</h1>",
             "<dl class='meta'>",
             f"<dt>Date range</dt><dd>{e(date_range)}</dd>" if date_range else "",
             f"<dt>Filters</dt><dd>{e(filters_text)}</dd>",
             f"<dt>Data as of</dt><dd>{e(data_as_of)}</dd>",
             f"<dt>Produced</dt><dd>{dt.date.today():%Y-%m-%d} by {public_charts.PRODUCT}</dd>",
             f"<dt>Charts</dt><dd>{len(figures_with_notes)}</dd>",
             "</dl>",
             f"<p class='rule'><strong>Small counts.</strong> {e(suppression)}</p>",
             "<h2>How each chart is counted</h2><ol class='notes'>",
             *[f"<li><strong>{e(t)}.</strong> {e(n)}</li>" for _, t, n in figures_with_notes],
             "</ol>"]
    pages = [f"<section class='page cover'>{''.join(cover)}</section>"]
    svgs = figures_svg([fig for fig, _, _ in figures_with_notes])
    for (_fig, chart_title, note), svg in zip(figures_with_notes, svgs, strict=True):
        src = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
        pages.append(
            f"<section class='page chart'><h2>{e(chart_title)}</h2>"
            f"<img src='{src}' alt='{e(chart_title)}'>"
            f"<p class='note'><strong>Method.</strong> {e(note)}</p>"
            f"<p class='foot'>{e(filters_text)} · {e(date_range)} · Data as of {e(data_as_of)} · "
            f"{e(suppression)} · {public_charts.PRODUCT}</p></section>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(title)}</title><style>{PACKET_CSS}</style></head><body>{''.join(pages)}</body></html>")


def html_to_pdf(document: str, timeout: float = PRINT_TIMEOUT_S) -> bytes:
    """Print an HTML document to PDF with headless Chromium (a fresh profile, no network services)."""
    work = Path(tempfile.mkdtemp(prefix="cga-print-"))
    try:
        page, out, profile = work / "packet.html", work / "packet.pdf", work / "profile"
        page.write_text(document, encoding="utf-8")
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               f"--print-to-pdf={out}", "--no-pdf-header-footer", page.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        if not out.exists() or out.stat().st_size == 0:
            raise RuntimeError(f"Chromium printed no PDF (exit {proc.returncode}): "
                               f"{proc.stderr.decode(errors='replace')[-500:]}")
        return out.read_bytes()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def press_packet_pdf(figures_with_notes: Sequence[tuple[Any, str, str]], title: str, filters_text: str,
                     data_as_of: str, *, date_range: str = "", suppression: str | None = None) -> bytes:
    """One PDF: a cover (title, date range, filters, data as of, method notes, suppression rule), then one page
    per (figure, chart title, method note)."""
    rule = suppression if suppression is not None else public_stats.suppression_rule()
    return html_to_pdf(_packet_html(figures_with_notes, title, filters_text, data_as_of, date_range, rule))


def _slug(ctx: public_charts.ChartContext) -> str:
    return f"{ctx.start:%Y%m%d}-{ctx.end:%Y%m%d}" + ("-" + "-".join(d.lower() for d in ctx.districts)
                                                      if ctx.districts else "")


def _audit(viewer, keys: list[str], fmt: str, ctx: public_charts.ChartContext, **more) -> None:
    from layers.access import audit

    audit.record(viewer, "export", kind="chart", ids=keys,
                 detail={"format": fmt, "start": ctx.start.isoformat(), "end": ctx.end.isoformat(),
                         "districts": list(ctx.districts),
                         "data_as_of": ctx.data_as_of.isoformat() if ctx.data_as_of else None, **more})


def export_chart(key: str, fmt: str, start: dt.date, end: dt.date,
                 districts: Sequence[str] | None = None) -> Export:
    """One chart as png, svg, pdf or csv for the current viewer, audited."""
    viewer = access.require("charts")
    if key not in public_stats.FUNCTIONS:
        raise KeyError(f"unknown chart {key!r}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: {', '.join(FORMATS)}")
    ctx = public_charts.ChartContext.make(start, end, districts, public_stats.data_as_of())
    fig, data = public_charts.build(key, ctx)
    if fmt == "csv":
        content = csv_bytes(data["rows"], public_charts.header_lines(key, ctx, data["summary"]),
                            public_stats.COUNT_COLUMNS[key])
    else:
        content = figure_bytes(fig, fmt)
    _audit(viewer, [key], fmt, ctx)
    return Export(f"crime-gun-atlas-{key.replace('_', '-')}-{_slug(ctx)}.{fmt}", content, MIME[fmt])


def export_packet(start: dt.date, end: dt.date, districts: Sequence[str] | None = None,
                  keys: Sequence[str] | None = None) -> Export:
    """Every chart (or `keys`) in one press-packet PDF for the current viewer, audited."""
    viewer = access.require("charts")
    keys = list(keys or public_stats.CHART_KEYS)
    ctx = public_charts.ChartContext.make(start, end, districts, public_stats.data_as_of())
    items = []
    for key in keys:
        fig, _ = public_charts.build(key, ctx)
        items.append((fig, public_stats.TITLES[key], public_stats.METHOD_NOTES[key]))
    content = press_packet_pdf(items, f"{public_charts.PRODUCT}: crime-gun figures", ctx.filters_text,
                               ctx.as_of_text, date_range=ctx.range_text)
    _audit(viewer, keys, "pdf", ctx, packet=True)
    return Export(f"crime-gun-atlas-press-packet-{_slug(ctx)}.pdf", content, "application/pdf")
