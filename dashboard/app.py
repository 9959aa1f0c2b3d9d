"""The Dash application: one shell (header, navigation, who is signed in) around Dash pages.

Every page declares the capability it needs (`capability=` in register_page, default "records");
the shell shows only the pages the signed-in role may open, and each page's layout runs behind the
gate, so a page typed into the address bar by a role without it shows a notice and no data.
"""

from __future__ import annotations

from functools import wraps
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from flask import session

from dashboard import resilience
from layers import access

ROOT = Path(__file__).resolve().parent.parent
PAGES = Path(__file__).resolve().parent / "pages"


def denied_page(exc: access.Denied) -> html.Div:
    if exc.needs_purpose:
        return html.Div([
            html.H1("Case number or reason needed", className="h4 mt-3"),
            html.P(str(exc).capitalize() + "."),
            html.A("Give the case number or reason", href="/purpose", className="btn btn-primary",
                   id="denied-purpose-link"),
        ], className="container-fluid", id="denied-page")
    return html.Div([
        html.H1("Not available to your role", className="h4 mt-3"),
        html.P(f"This page is {exc}. Maps, statistics and the public charts are in the menu.",
               id="denied-message"),
    ], className="container-fluid", id="denied-page", role="alert")


def gated(layout, capability: str):
    """A page layout that runs only for viewers with the capability (and shows a notice otherwise);
    when its data cannot be read (the database is not answering) it shows that instead."""
    @wraps(layout)
    def run(*args, **kwargs):
        try:
            access.require(capability)
            return layout(*args, **kwargs)
        except access.Denied as exc:
            return denied_page(exc)
        except resilience.UNAVAILABLE_ERRORS:
            resilience.log.warning("page %s: database unavailable", getattr(layout, "__module__", "?"))
            return resilience.notice()
    return run


def _nav(viewer: access.Viewer) -> dbc.Navbar:
    links = [dbc.NavLink(page["name"], href=page["relative_path"], active="exact",
                         id=f"nav-{page['module'].split('.')[-1]}")
             for page in dash.page_registry.values()
             if page.get("nav", True) and access.CAPABILITIES.get(viewer.role or "", frozenset()) >= {
                 page.get("capability", "records")}]
    who = []
    if viewer.signed_in:
        purpose = [html.Span(" · purpose: ", className="nav-dim"),
                   html.A(viewer.purpose or "none given", href="/purpose", id="nav-purpose",
                          title=(f"{viewer.purpose}: " if viewer.purpose else "")
                          + "change the case number or reason")] if "personal" in access.CAPABILITIES[
                               viewer.role] else []
        who = [html.Span([html.Span(viewer.user, id="nav-user"), html.Span(f" ({viewer.role})", id="nav-role"),
                          *purpose], className="nav-who"),
               html.Form([dcc.Input(type="hidden", name="csrf_token", value=session.get("csrf", ""), style={"display": "none"}),
                          html.Button("Sign out", type="submit", className="btn btn-sm btn-outline-light ms-2",
                                      id="nav-signout")], method="post", action="/logout", className="d-inline")]
    return dbc.Navbar(
        dbc.Container([
            html.A([html.Span("Crime Gun Atlas", className="brand-name"),
                    html.Span("crime-gun intelligence", className="brand-tag")], href="/", className="navbar-brand"),
            dbc.Nav(links, navbar=True, className="ms-3 me-auto"),
            html.Div(who, className="nav-account"),
        ], fluid=True),
        color="dark", dark=True, className="py-1 atlas-nav", role="navigation",
    )


def shell() -> html.Div:
    """The layout of every page, built per request for the signed-in viewer."""
    return html.Div([
        html.A("Skip to content", href="#main", className="visually-hidden-focusable skip-link"),
        _nav(access.current_viewer()),
        dcc.Store(id="shell-version"),
        dcc.Interval(id="shell-tick", interval=3_000),  # one cheap version check for the page, whatever it is
        # tabIndex -1: the skip link moves focus here, so the next Tab continues inside the page.
        html.Main(dash.page_container, id="main", className="atlas-main", tabIndex=-1),
        # A line of its own under the page (not drawn over it), so it never hides the page's last rows.
        html.Footer(html.Div(id="shell-asof", role="status", **{"aria-live": "polite"}), className="shell-foot"),
    ], className="atlas-shell")


def data_as_of(_n, known):
    """"Data as of" on every page, refreshed when a load finishes (a cheap version check otherwise)."""
    from layers import db, etl_runs

    if not access.allowed("data"):
        raise PreventUpdate
    version = db.data_version()
    if known is not None and version == known:
        raise PreventUpdate
    status = etl_runs.data_status()
    if not status["latest"]:
        return "No data loaded yet.", version
    return (f"Data as of {status['latest']:%Y-%m-%d}" + (f" · last load {status['last_load']}"
                                                         if status["last_load"] else "")), version


def create_app() -> Dash:
    """A fresh app (tests build one per test); pages are registered from dashboard/pages."""
    from dashboard import login, security

    dash.page_registry.clear()
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PAGES),
        assets_folder=str(ROOT / "assets"),
        title="Crime Gun Atlas",
        update_title=None,
        suppress_callback_exceptions=True,
        compress=True,  # gzip/brotli for bundles and callback responses (GeoJSON compresses ~10x)
    )
    for page in dash.page_registry.values():
        page["layout"] = gated(page["layout"], page.get("capability", "records"))
    app.layout = shell
    # Registered on each app (not at import): tests build many apps in one process.
    from dashboard.components import index_panel, tables

    tables.register_callbacks(app)
    index_panel.register_callbacks(app)
    app.callback(Output("shell-asof", "children"), Output("shell-version", "data"),
                 Input("shell-tick", "n_intervals"), State("shell-version", "data"))(data_as_of)
    app.index_string = app.index_string.replace("<html>", '<html lang="en">')
    security.install(app)
    login.install(app)
    resilience.install(app)
    return app


def warm() -> bool:
    """Do in a new worker what its first map request would otherwise pay for (~150 ms at 100x): load the
    database driver, open a pooled connection, and fill the per-process caches (the boundary outlines).
    Never raises: a database that is down or slow only means the first request pays, as before."""
    import datetime as dt
    import logging

    from plotly.io.json import to_json_plotly

    from dashboard.components.map_state import parse_view
    from layers import districts, points

    try:
        with access.use_viewer(access.Viewer("system", "analyst", purpose="warming a new worker")):
            extent = points.data_extent()
            districts.boundary_kinds()
            districts.district_names()
            districts.city_bounds()
            if extent:  # the outlines of the map's opening view (the default dates)
                view = parse_view({}, *extent)
                districts.boundaries_geojson("district", dt.date.fromisoformat(str(view["start"])[:10]),
                                             dt.date.fromisoformat(str(view["end"])[:10]))
            # The map page itself, as its first request renders and encodes it (the code paths and the
            # component classes warmed, the sidebar's queries planned once).
            home = next((p for p in dash.page_registry.values() if p.get("path") == "/"), None)
            if home is not None and callable(home.get("layout")):
                to_json_plotly(home["layout"]())
        return True
    except Exception as exc:  # noqa: BLE001 — warming is best effort
        logging.getLogger(__name__).info("worker warm-up skipped: %s", exc)
        return False
