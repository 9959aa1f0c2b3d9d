"""The public charts as Plotly figures, built from `layers.public_stats` (no Dash here).

The page shows these figures and the exports render the very same ones, so a chart and its PNG, SVG or
PDF never disagree. Every figure carries its own context — the date range and districts in the subtitle,
and a footnote with the filters, the data-as-of date, the small-count rule and the product name — so an
image cut from its page still says what it shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from layers import access, public_stats

PRODUCT = "Crime Gun Atlas"
WIDTH, HEIGHT = 1000, 560
HOME, OUT, UNKNOWN = "#1f4e79", "#c55a11", "#9e9e9e"
BAR = "#1f4e79"
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"


@dataclass(frozen=True)
class ChartContext:
    """What a chart was asked for: the date range, the districts (empty = all) and how fresh the data is."""

    start: dt.date
    end: dt.date
    districts: tuple[str, ...] = ()
    data_as_of: dt.date | None = None

    @classmethod
    def make(cls, start: dt.date, end: dt.date, districts: Sequence[str] | None = None,
             data_as_of: dt.date | None = None) -> ChartContext:
        if end < start:
            start, end = end, start
        return cls(start, end, tuple(d for d in (districts or ()) if d), data_as_of)

    @property
    def range_text(self) -> str:
        return f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"

    @property
    def filters_text(self) -> str:
        if not self.districts:
            return "All districts"
        return ("District: " if len(self.districts) == 1 else "Districts: ") + ", ".join(
            d.title() for d in self.districts)

    @property
    def as_of_text(self) -> str:
        return f"{self.data_as_of:%Y-%m-%d}" if self.data_as_of else "no data loaded"

    def footnote(self) -> str:
        return (f"{self.filters_text} · {self.range_text} · Data as of {self.as_of_text}<br>"
                f"{public_stats.suppressed_note().capitalize()} (shown as gaps) · {PRODUCT}")


def chart_data(key: str, ctx: ChartContext) -> dict[str, Any]:
    """{rows, summary}: the chart's rows from public_stats (and, for source states, the out-of-state share)."""
    if key not in public_stats.FUNCTIONS:
        raise KeyError(f"unknown chart {key!r}")
    rows = public_stats.FUNCTIONS[key](ctx.start, ctx.end, ctx.districts)
    summary = public_stats.out_of_state_share(ctx.start, ctx.end, ctx.districts) if key == "source_states" else None
    return {"rows": rows, "summary": summary}


def summary_text(key: str, summary: dict[str, Any] | None) -> str:
    if key != "source_states" or not summary:
        return ""
    if summary["share_pct"] is None:
        return f"Share first sold outside {summary['home_state']}: not shown (small counts or no known source)"
    return (f"{summary['share_pct']:.0f}% first sold outside {summary['home_state']} "
            f"(of {summary['known_source']:,} guns with a known source state)")


def header_lines(key: str, ctx: ChartContext, summary: dict[str, Any] | None = None) -> list[str]:
    """The lines that open a chart's CSV file: what, which filters, which dates, how fresh, how counted."""
    lines = [public_stats.TITLES[key], f"Filters: {ctx.filters_text}", f"Date range: {ctx.range_text}",
             f"Data as of: {ctx.as_of_text}", f"Method: {public_stats.METHOD_NOTES[key]}",
             f"Suppression: {public_stats.suppression_rule()}"]
    extra = summary_text(key, summary)
    if extra:
        lines.append(f"Summary: {extra}")
    lines.append(f"Produced by {PRODUCT} on {dt.date.today():%Y-%m-%d}")
    return lines


TEMPLATE = "plotly_white"


def _set_template(fig: go.Figure) -> None:
    """fig.update_layout(template=TEMPLATE), without validating and copying the registered template anew:
    plotly's own default template is assigned this way. Validating it took ~16 ms of a figure's ~20; the
    figure is the same (a unit test compares)."""
    layout = fig.layout
    layout._validate = False
    try:
        layout.template = pio.templates[TEMPLATE]
    finally:
        layout._validate = True


def _base(fig: go.Figure, key: str, ctx: ChartContext, subtitle_extra: str = "", top: int = 90,
          bottom: int = 125) -> go.Figure:
    # A chart's own note goes on a second line: on one line with the dates it ran past the figure's edge.
    subtitle = f"{ctx.range_text} · {ctx.filters_text}" + (f"<br>{subtitle_extra}" if subtitle_extra else "")
    if subtitle_extra:
        top += 18
    _set_template(fig)
    fig.update_layout(
        width=WIDTH, height=HEIGHT, font={"family": FONT, "size": 13, "color": "#222"},
        title={"text": public_stats.TITLES[key], "x": 0.01, "xanchor": "left", "font": {"size": 18},
               "subtitle": {"text": subtitle, "font": {"size": 13, "color": "#555"}}},
        margin={"l": 70, "r": 30, "t": top, "b": bottom}, showlegend=fig.layout.showlegend,
        annotations=list(fig.layout.annotations or ()) + [{
            "text": ctx.footnote(), "xref": "paper", "yref": "paper", "x": 0, "y": 0, "yshift": -(bottom - 6),
            "align": "left",
            "xanchor": "left", "yanchor": "bottom", "showarrow": False, "font": {"size": 11, "color": "#555"}}],
    )
    return fig


def _suppressed_marks(fig: go.Figure, categories: list, values: list, horizontal: bool = False, **where) -> None:
    """A small '<5' where a suppressed bar would be, so a gap reads as suppressed rather than zero."""
    gaps = [c for c, v in zip(categories, values, strict=True) if v is None]
    if not gaps:
        return
    label = f"<{access.small_count_threshold()}"
    coords = {"y": gaps, "x": [0] * len(gaps)} if horizontal else {"x": gaps, "y": [0] * len(gaps)}
    fig.add_trace(go.Scatter(**coords, mode="text", text=[label] * len(gaps), showlegend=False, hoverinfo="skip",
                             textposition="middle right" if horizontal else "top center",
                             textfont={"color": "#777", "size": 11}), **where)


def _month_bars(key: str, rows: list[dict], column: str, ytitle: str, ctx: ChartContext) -> go.Figure:
    months = [r["month"] for r in rows]
    values = [r[column] for r in rows]
    fig = go.Figure(go.Bar(x=months, y=values, marker_color=BAR, name=ytitle,
                           text=[v if v is not None else "" for v in values], textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y}<extra></extra>"))
    _suppressed_marks(fig, months, values)
    fig.update_xaxes(title_text="Month", type="category", tickangle=-45 if len(months) > 6 else 0)
    fig.update_yaxes(title_text=ytitle, rangemode="tozero")
    fig.update_layout(showlegend=False)
    return _base(fig, key, ctx)


def _hbars(key: str, labels: list[str], values: list, xtitle: str, ctx: ChartContext, colors=None,
           subtitle_extra: str = "", ytitle: str = "") -> go.Figure:
    labels, values = labels[::-1], values[::-1]   # largest at the top
    colors = colors[::-1] if isinstance(colors, list) else (colors or BAR)
    fig = go.Figure(go.Bar(y=labels, x=values, orientation="h", marker_color=colors,
                           text=[f"{v:,}" if v is not None else "" for v in values], textposition="outside",
                           cliponaxis=False, hovertemplate="%{y}: %{x}<extra></extra>"))
    _suppressed_marks(fig, labels, values, horizontal=True)
    fig.update_xaxes(title_text=xtitle, rangemode="tozero")
    fig.update_yaxes(title_text=ytitle, type="category", automargin=True)
    fig.update_layout(showlegend=False)
    return _base(fig, key, ctx, subtitle_extra)


def _source_states(key, data, ctx):
    rows = data["rows"]
    colors = [HOME if r["home_state"] else (UNKNOWN if r["home_state"] is None else OUT) for r in rows]
    labels = [f"{r['state']} (home state)" if r["home_state"] else r["state"] for r in rows]
    return _hbars(key, labels, [r["guns"] for r in rows], "Recovered guns", ctx, colors,
                  summary_text(key, data["summary"]), ytitle="State of first retail sale")


def _ttc(key, data, ctx):
    rows = data["rows"]
    bands, values = [r["band"] for r in rows], [r["guns"] for r in rows]
    text = [f"{r['guns']:,} ({r['share_pct']:.0f}%)" if r["guns"] is not None and r["share_pct"] is not None
            else ("" if r["guns"] is None else f"{r['guns']:,}") for r in rows]
    fig = go.Figure(go.Bar(x=bands, y=values, marker_color=[OUT, "#e8a33d", HOME, UNKNOWN], text=text,
                           textposition="outside", cliponaxis=False, hovertemplate="%{x}: %{y}<extra></extra>"))
    _suppressed_marks(fig, bands, values)
    fig.update_xaxes(title_text="Time from first retail sale to recovery", type="category")
    fig.update_yaxes(title_text="Recovered guns", rangemode="tozero")
    fig.update_layout(showlegend=False)
    return _base(fig, key, ctx)


def _district_heatmaps(key, data, ctx):
    rows = data["rows"]
    districts = list(dict.fromkeys(r["district"] for r in rows))
    months = list(dict.fromkeys(r["month"] for r in rows))
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("Shootings and homicides (firearm)", "ShotSpotter alerts"))
    for col, column, scale in ((1, "shootings_homicides", [[0, "#fff5f0"], [1, "#a50f15"]]),
                               (2, "alerts", [[0, "#f7fbff"], [1, "#08306b"]])):
        cell = {(r["district"], r["month"]): r[column] for r in rows}
        z = [[cell.get((d, m)) for m in months] for d in districts]
        top = max([v for line in z for v in line if v is not None] + [1])
        fig.add_trace(go.Heatmap(
            x=months, y=[d.title() for d in districts], z=z, colorscale=scale, zmin=0, zmax=top, showscale=False, xgap=1, ygap=1,
            texttemplate="%{z}", textfont={"size": 9}, hoverongaps=False,
            hovertemplate="%{y}, %{x}: %{z}<extra></extra>"), row=1, col=col)
    fig.update_xaxes(type="category", tickangle=-60, title_text="Month", tickfont={"size": 10})
    fig.update_yaxes(autorange="reversed", type="category", title_text="Police district", row=1, col=1)
    fig.update_layout(showlegend=False)
    return _base(fig, key, ctx, "blank cell = suppressed", top=120, bottom=160)


def _ytd(key, data, ctx):
    rows = data["rows"]
    measures = [r["measure"] for r in rows]
    last, this = [r["last_year"] for r in rows], [r["this_year"] for r in rows]
    p_this, p_last = (rows[0]["this_period"], rows[0]["last_period"]) if rows else ("", "")
    # The change goes under each measure's name, so nothing crowds the legend above the plot.
    def change(pct: float) -> str:  # -0.3% reads as such, not as "-0%"
        return f"{pct:+.1f}%" if 0 < abs(pct) < 1 else f"{pct:+.0f}%"

    labels = [f"{m}<br><b>{change(r['change_pct'])}</b>" if r["change_pct"] is not None else m
              for m, r in zip(measures, rows, strict=True)]
    fig = go.Figure([
        go.Bar(x=labels, y=last, name=f"Last year: {p_last}", marker_color=UNKNOWN,
               text=[f"{v:,}" if v is not None else "" for v in last], textposition="outside", cliponaxis=False),
        go.Bar(x=labels, y=this, name=f"This year to date: {p_this}", marker_color=HOME,
               text=[f"{v:,}" if v is not None else "" for v in this], textposition="outside", cliponaxis=False),
    ])
    _suppressed_marks(fig, labels, [None if a is None or b is None else 1 for a, b in zip(last, this, strict=True)])
    fig.update_xaxes(title_text="Measure (change against last year)", type="category")
    fig.update_yaxes(title_text="Count", rangemode="tozero")
    fig.update_layout(barmode="group", showlegend=True,
                      # Just above the plot; the title is held at the top of the figure, so the two never meet.
                      legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom",
                              "font": {"size": 12}})
    fig = _base(fig, key, ctx, "percent change under each measure", top=150)
    fig.update_layout(title={"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 12}})
    return fig


def figure(key: str, data: dict[str, Any], ctx: ChartContext) -> go.Figure:
    """The chart of `key` for rows from `chart_data`."""
    rows = data["rows"]
    if key == "recoveries_by_month":
        return _month_bars(key, rows, "recoveries", "Recovered guns", ctx)
    if key == "ghost_guns_by_month":
        return _month_bars(key, rows, "ghost_guns", "Privately made guns", ctx)
    if key == "source_states":
        return _source_states(key, data, ctx)
    if key == "time_to_crime":
        return _ttc(key, data, ctx)
    if key == "firearm_types":
        return _hbars(key, [r["firearm_type"].title() for r in rows], [r["guns"] for r in rows], "Recovered guns",
                      ctx, ytitle="Firearm type")
    if key == "top_makers":
        return _hbars(key, [r["manufacturer"].title() for r in rows], [r["guns"] for r in rows], "Recovered guns",
                      ctx, ytitle="Manufacturer")
    if key == "shootings_alerts_by_district":
        return _district_heatmaps(key, data, ctx)
    if key == "ytd_comparison":
        return _ytd(key, data, ctx)
    raise KeyError(f"unknown chart {key!r}")


def build(key: str, ctx: ChartContext) -> tuple[go.Figure, dict[str, Any]]:
    """(figure, data) of one chart under the context (the gate is asked by the data functions)."""
    data = chart_data(key, ctx)
    return figure(key, data, ctx), data
