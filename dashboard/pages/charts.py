"""Charts: public summary figures for press and policy staff, with server-rendered exports.

Aggregates only; small counts are suppressed for roles without record access. Every PNG, SVG, PDF and
CSV is rendered on the server (dashboard/charts/exports.py), carries its filters and data-as-of date, and is
written to the audit trail. No SQL here: the figures come from dashboard/charts/figures.py.
"""

from __future__ import annotations

import datetime as dt

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard.charts import exports
from dashboard.charts import figures as public_charts
from layers import access, public_stats

dash.register_page(__name__, capability="charts", path="/charts", name="Charts", order=3,
                   title="Crime Gun Atlas — charts")

KEYS = public_stats.CHART_KEYS
FORMATS = ("png", "svg", "pdf", "csv")
GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["toImage", "select2d", "lasso2d"]}


def _default_range(as_of: dt.date | None) -> tuple[dt.date, dt.date]:
    """The last twelve months up to the data-as-of date."""
    end = as_of or dt.date.today()
    return _year_before(end), end


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1) + dt.timedelta(days=1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28) + dt.timedelta(days=1)


def _notice(message: str) -> html.Div:
    return html.Div(message, className="alert alert-secondary charts-notice", role="status", id="charts-denied")


def _card(key: str, as_of_text: str) -> dbc.Card:
    buttons = [html.Button(fmt.upper(), id=f"charts-export-{fmt}-{key}", n_clicks=0, type="button",
                           className="btn btn-sm btn-outline-secondary me-1", title=f"Download this chart as {fmt.upper()}",
                           **{"aria-label": f"{public_stats.TITLES[key]}: download {fmt.upper()}"})
               for fmt in FORMATS]
    return dbc.Card([
        dbc.CardHeader(html.H2(public_stats.TITLES[key], className="h6 mb-0"), className="charts-card-head"),
        dbc.CardBody([
            dcc.Loading(dcc.Graph(id=f"charts-graph-{key}", config=GRAPH_CONFIG, className="charts-graph"),
                        type="default", delay_show=300),
            html.P(public_stats.METHOD_NOTES[key], className="charts-note small mb-1", id=f"charts-note-{key}"),
            html.P([html.Span(f"Data as of {as_of_text}", id=f"charts-asof-{key}", className="charts-asof"),
                    " · ", html.Span(public_stats.suppressed_note(), className="charts-suppressed")],
                   className="small text-muted mb-2"),
            html.Div(buttons, className="charts-buttons", role="group",
                     **{"aria-label": f"Export {public_stats.TITLES[key]}"}),
        ]),
    ], className="charts-card mb-3", id=f"charts-card-{key}")


def layout(**_query) -> html.Div:
    try:
        as_of = public_stats.data_as_of()
        names = public_stats.districts()
    except access.Denied as e:
        return html.Div([html.H1("Charts", className="h4 mt-3"), _notice(f"Charts are {e}.")],
                        className="container-fluid charts-page")
    start, end = _default_range(as_of)
    as_of_text = f"{as_of:%Y-%m-%d}" if as_of else "no data loaded"
    return html.Div([
        html.H1("Charts for the public record", className="h4 mt-3"),
        html.P(["Summary figures that may be published: aggregates only, never people, serial, trace or case "
                "numbers, or addresses. ", public_stats.suppression_rule(),
                " Every download is rendered on the server with its filters and data-as-of date, and is logged."],
               className="text-muted charts-intro"),
        html.Div([
            html.Div([html.Label("Dates", htmlFor="charts-dates", className="form-label d-block"),
                      dcc.DatePickerRange(id="charts-dates", start_date=start, end_date=end,
                                          max_date_allowed=as_of or end, display_format="YYYY-MM-DD",
                                          minimum_nights=0, clearable=False)], className="charts-control"),
            html.Div([html.Label("Districts", htmlFor="charts-districts", className="form-label"),
                      dcc.Dropdown(id="charts-districts", multi=True, placeholder="All districts",
                                   options=[{"label": n.title(), "value": n} for n in names])],
                     className="charts-control charts-districts"),
            html.Div([html.Span(f"Data as of {as_of_text}", id="charts-asof", className="d-block small text-muted"),
                      dbc.Button("Press packet (PDF)", id="charts-packet", color="primary",
                                 title="Every chart with a cover page of method notes, as one PDF")],
                     className="charts-control charts-packet"),
        ], className="charts-controls", role="search", **{"aria-label": "Chart filters"}),
        dcc.Loading(html.Div(id="charts-status", className="charts-status small", role="status",
                             **{"aria-live": "polite"}), type="dot"),
        dcc.Download(id="charts-download"),
        html.Div(id="charts-notice"),
        html.Div([_card(key, as_of_text) for key in KEYS], className="charts-grid"),
    ], className="container-fluid charts-page")


def _context(start: str | None, end: str | None, districts) -> public_charts.ChartContext:
    s = dt.date.fromisoformat(start[:10]) if start else None
    e = dt.date.fromisoformat(end[:10]) if end else None
    as_of = public_stats.data_as_of()
    default_s, default_e = _default_range(as_of)
    return public_charts.ChartContext.make(s or default_s, e or default_e, districts or (), as_of)


def _for_screen(fig):
    fig.update_layout(width=None, height=470, autosize=True)
    return fig


def _chart_callback(key: str):
    """The callback drawing one chart: each chart has its own, so the page draws them as they come (the
    browser asks for all at once; the server's threads answer them side by side) instead of waiting for
    the slowest of eight figures."""
    def update_chart(start, end, districts):
        try:
            c = _context(start, end, districts)
            figure = _for_screen(public_charts.build(key, c)[0])
        except access.Denied:
            return no_update, no_update  # the notice says why (update_notice)
        return figure, f"Data as of {c.as_of_text}"

    update_chart.__name__ = update_chart.__qualname__ = f"update_chart_{key}"
    return update_chart


FILTER_INPUTS = [Input("charts-dates", "start_date"), Input("charts-dates", "end_date"),
                 Input("charts-districts", "value")]
for _key in KEYS:
    callback(Output(f"charts-graph-{_key}", "figure"), Output(f"charts-asof-{_key}", "children"),
             *FILTER_INPUTS)(_chart_callback(_key))


@callback(Output("charts-notice", "children"), *FILTER_INPUTS)
def update_notice(start, end, districts):
    """Say so when the viewer's role may not see the charts (each chart's own callback then draws nothing)."""
    try:
        access.require("charts")
    except access.Denied as e:
        return _notice(f"Charts are {e}.")
    return None


_EXPORT_IDS = [f"charts-export-{fmt}-{key}" for key in KEYS for fmt in FORMATS]


@callback(Output("charts-download", "data"), Output("charts-status", "children"),
          [Input(i, "n_clicks") for i in _EXPORT_IDS] + [Input("charts-packet", "n_clicks")],
          State("charts-dates", "start_date"), State("charts-dates", "end_date"), State("charts-districts", "value"),
          prevent_initial_call=True)
def export(*args):
    start, end, districts = args[-3:]
    trigger = ctx.triggered_id
    if not trigger or not any(args[:-3]):
        return no_update, no_update
    try:
        c = _context(start, end, districts)
        if trigger == "charts-packet":
            out = exports.export_packet(c.start, c.end, c.districts)
            what = "Press packet"
        else:
            fmt, key = trigger.removeprefix("charts-export-").split("-", 1)
            out = exports.export_chart(key, fmt, c.start, c.end, c.districts)
            what = f"{public_stats.TITLES[key]} ({fmt.upper()})"
    except access.Denied as e:
        return no_update, _notice(f"Exports are {e}.")
    except Exception as e:  # a failed render must say so, not leave the user waiting
        return no_update, html.Span(f"The export could not be made: {e}", className="text-danger")
    return dcc.send_bytes(out.content, out.filename), f"{what} downloaded: {out.filename} (logged)."
