"""What the map page's modules share: the filter controls and the filters they describe, empty layers, and
the keeping of the callbacks declared beside the page.

Dash runs a page's module afresh for each app it builds (tests build many in one process) and gives the
callbacks declared then to that app; a module the page imports runs once per process, so a plain @callback in
it would reach only the first app. The map page's panel modules (map_points, map_areas, map_details,
map_command) therefore declare theirs with `callback` and `clientside_callback` from here, which keep them,
and the page hands them all to Dash each time it runs (`register_callbacks`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dash
from dash import Input

from dashboard.components.map_state import playback_window
from layers.map_filters import MapFilters

CLUSTER_RADIUS_PX = 70
EMPTY = {"type": "FeatureCollection", "features": []}
FILTER_INPUTS = [Input("map-dates", "start_date"), Input("map-dates", "end_date"), Input("map-district", "value"),
                 Input("map-alert-types", "value"), Input("map-firearm-types", "value"), Input("map-ttc", "value"),
                 Input("map-source-states", "value"), Input("map-oos", "value"), Input("map-frame", "data"),
                 Input("map-step", "value"), Input("map-cumulative", "value")]

_KEPT: list[tuple[tuple, dict, Callable | None]] = []


def callback(*args, **kwargs) -> Callable:
    """`dash.callback`, kept until the page registers it (see above)."""
    def keep(func: Callable) -> Callable:
        _KEPT.append((args, kwargs, func))
        return func
    return keep


def clientside_callback(*args: Any, **kwargs: Any) -> None:
    """`dash.clientside_callback`, kept until the page registers it (see above)."""
    _KEPT.append((args, kwargs, None))


def register_callbacks() -> None:
    """Give Dash every kept callback, for the app whose pages it is importing."""
    for args, kwargs, func in _KEPT:
        if func is None:
            dash.clientside_callback(*args, **kwargs)
        else:
            dash.callback(*args, **kwargs)(func)


def _on(value: list | None) -> bool:
    return bool(value and "on" in value)


def map_filters(start_date, end_date, district, alert_types, firearm_types, ttc, states, oos, frame, step,
                cumulative) -> tuple[MapFilters, str]:
    """The filters the controls describe, narrowed to the playback frame when playing; and its label."""
    if not start_date or not end_date:
        raise dash.exceptions.PreventUpdate
    start, end = dt.date.fromisoformat(start_date[:10]), dt.date.fromisoformat(end_date[:10])
    if start > end:
        start, end = end, start
    shown_start, shown_end, label = playback_window(start, end, step or "week", frame, _on(cumulative))
    return MapFilters(start=shown_start, end=shown_end, districts=tuple(district or ()),
                      alert_types=tuple(alert_types or ()), firearm_types=tuple(firearm_types or ()),
                      ttc_bands=tuple(ttc or ()), source_states=tuple(states or ()),
                      out_of_state_only=_on(oos)), label
