"""The Dash application: one shell (header, navigation, data notices) around Dash pages."""

from __future__ import annotations

from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Dash, html

ROOT = Path(__file__).resolve().parent.parent
PAGES = Path(__file__).resolve().parent / "pages"


def _nav() -> dbc.Navbar:
    links = [dbc.NavLink(page["name"], href=page["relative_path"], active="exact", id=f"nav-{page['module'].split('.')[-1]}")
             for page in dash.page_registry.values() if page.get("nav", True)]
    return dbc.Navbar(
        dbc.Container([
            html.A([html.Span("Crime Gun Atlas", className="brand-name"),
                    html.Span("crime-gun intelligence", className="brand-tag")], href="/", className="navbar-brand"),
            dbc.Nav(links, navbar=True, className="ms-3"),
        ], fluid=True),
        color="dark", dark=True, className="py-1 atlas-nav", role="navigation",
    )


def create_app() -> Dash:
    """A fresh app (tests build one per test); pages are registered from dashboard/pages."""
    dash.page_registry.clear()
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PAGES),
        assets_folder=str(ROOT / "assets"),
        title="Crime Gun Atlas",
        update_title=None,
        suppress_callback_exceptions=True,
    )
    app.layout = html.Div([
        _nav(),
        html.Main(dash.page_container, id="main", className="atlas-main"),
    ], className="atlas-shell")
    return app
