"""The map's view as plain data: read from and written to the URL query string, date presets, playback.

Pure functions (no Dash callbacks, no database) so they are unit-tested directly. The view is what a
bookmark must restore: dates, comparison, filters, layers, display, choropleth boundaries and
measure, centre, zoom.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

POINT_LAYERS = ("alerts", "shootings", "recoveries")
ALL_LAYERS = (*POINT_LAYERS, "dealers", "flows", "districts")
DEFAULT_LAYERS = ("alerts", "shootings", "recoveries", "districts")
PRESETS = {"7d": "Last 7 days", "28d": "Last 28 days", "ytd": "Year to date", "1y": "Last 12 months"}
STEPS = {"day": "Day", "week": "Week", "month": "Month"}
MEASURES = ("none", "shootings", "alerts", "recoveries")
BOUNDARY_LABELS = {"district": "District", "post": "Post", "neighborhood": "Neighborhood",
                   "csa": "Community Statistical Area"}
TABLE_SORTS = ("district", "nonfatal", "homicides", "alerts", "recoveries", "nonfatal_change",
               "homicides_change", "alerts_change", "recoveries_change", "nonfatal_rate", "homicides_rate",
               "alerts_rate", "recoveries_rate")
LIST_KEYS = {"layers": "layers", "district": "districts", "alert": "alert_types", "ftype": "firearm_types",
             "ttc": "ttc_bands", "state": "source_states"}


def preset_range(preset: str, last: dt.date, first: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """A preset's dates, counted back from the latest day in the data (demo data ends in 2025)."""
    if preset == "7d":
        start = last - dt.timedelta(days=6)
    elif preset == "28d":
        start = last - dt.timedelta(days=27)
    elif preset == "ytd":
        start = last.replace(month=1, day=1)
    elif preset == "1y":
        start = last - dt.timedelta(days=364)
    else:
        raise ValueError(f"unknown preset {preset!r}")
    return (max(start, first) if first else start), last


def _date(value: Any, default: dt.date, first: dt.date, last: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return default
    return min(max(day, first), last)


def _float(value: Any, lo: float, hi: float) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if lo <= v <= hi else None


def _list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return [v for v in str(value).split(",") if v]


def parse_view(query: dict[str, Any], first: dt.date, last: dt.date) -> dict[str, Any]:
    """The view a URL asks for, with defaults for what it leaves out and nonsense ignored."""
    default_start, _ = preset_range("28d", last, first)
    start = _date(query.get("start"), default_start, first, last)
    end = _date(query.get("end"), last, first, last)
    if start > end:
        start, end = end, start
    view: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
    for key, name in LIST_KEYS.items():
        view[name] = _list(query.get(key))
    if "layers" not in query:
        view["layers"] = list(DEFAULT_LAYERS)
    view["layers"] = [v for v in view["layers"] if v in ALL_LAYERS]
    view["out_of_state_only"] = query.get("oos") == "1"
    view["compare"] = query.get("cmp", "1") != "0"
    view["display"] = "cells" if query.get("display") == "cells" else "auto"
    view["density_layer"] = query.get("dens") if query.get("dens") in POINT_LAYERS else "shootings"
    view["measure"] = query.get("measure") if query.get("measure") in MEASURES else "shootings"
    view["rate"] = query.get("rate") == "1"
    view["boundary"] = query.get("boundary") if query.get("boundary") in BOUNDARY_LABELS else "district"
    view["step"] = query.get("step") if query.get("step") in STEPS else "week"
    view["cumulative"] = query.get("cum") == "1"
    lat, lon, zoom = _float(query.get("lat"), -85, 85), _float(query.get("lon"), -180, 180), _float(query.get("z"), 2, 20)
    view["center"] = [lat, lon] if lat is not None and lon is not None else None
    view["zoom"] = zoom
    # The open district panel and the district table's order travel with the view, so a shared link reopens them.
    panel = str(query.get("panel") or "").strip().upper()
    view["panel"] = panel[:60] if panel else None
    view["sort"] = query.get("sort") if str(query.get("sort") or "").lstrip("-") in TABLE_SORTS else "district"
    return view


def view_query(view: dict[str, Any]) -> str:
    """The query string ('?a=b&...') of a view; only what differs from the defaults is written."""
    q: dict[str, str] = {"start": view["start"], "end": view["end"]}
    for key, name in LIST_KEYS.items():
        values = view.get(name) or []
        if name == "layers":
            if list(values) != list(DEFAULT_LAYERS):
                q[key] = ",".join(values)
        elif values:
            q[key] = ",".join(values)
    if view.get("out_of_state_only"):
        q["oos"] = "1"
    if not view.get("compare", True):
        q["cmp"] = "0"
    if view.get("display") == "cells":
        q["display"] = "cells"
    if view.get("density_layer", "shootings") != "shootings":
        q["dens"] = view["density_layer"]
    if view.get("measure", "shootings") != "shootings":
        q["measure"] = view["measure"]
    if view.get("rate"):
        q["rate"] = "1"
    if view.get("boundary", "district") != "district":
        q["boundary"] = view["boundary"]
    if view.get("step", "week") != "week":
        q["step"] = view["step"]
    if view.get("cumulative"):
        q["cum"] = "1"
    if view.get("panel"):
        q["panel"] = view["panel"]
    if view.get("sort", "district") != "district":
        q["sort"] = view["sort"]
    if view.get("center") and view.get("zoom") is not None:
        q["lat"] = f"{view['center'][0]:.5f}"
        q["lon"] = f"{view['center'][1]:.5f}"
        q["z"] = f"{view['zoom']:g}"
    return "?" + urlencode(q, safe=",")


def _add_months(day: dt.date, months: int) -> dt.date:
    m = day.month - 1 + months
    return dt.date(day.year + m // 12, m % 12 + 1, 1)


def playback_frames(start: dt.date, end: dt.date, step: str) -> list[tuple[dt.date, dt.date]]:
    """The periods playback steps through: days, weeks from `start`, or calendar months, clipped to end."""
    frames: list[tuple[dt.date, dt.date]] = []
    cursor = start
    while cursor <= end and len(frames) < 2000:
        if step == "day":
            nxt = cursor + dt.timedelta(days=1)
        elif step == "week":
            nxt = cursor + dt.timedelta(days=7)
        else:
            nxt = _add_months(cursor, 1)
        frames.append((cursor, min(end, nxt - dt.timedelta(days=1))))
        cursor = nxt
    return frames


def playback_window(start: dt.date, end: dt.date, step: str, frame: int | None,
                    cumulative: bool) -> tuple[dt.date, dt.date, str]:
    """The dates the map shows at a playback frame (None = not playing: the whole range), and a label."""
    if frame is None:
        return start, end, ""
    frames = playback_frames(start, end, step)
    i = max(0, min(frame, len(frames) - 1))
    f_start, f_end = frames[i]
    shown_start = start if cumulative else f_start
    label = f"{STEPS[step]} {i + 1} of {len(frames)}: {shown_start:%d %b %Y} – {f_end:%d %b %Y}"
    return shown_start, f_end, label


def meters_per_pixel(zoom: float, lat: float) -> float:
    """Ground metres per screen pixel in Web Mercator at a zoom and latitude."""
    import math

    return 156543.03392804097 * math.cos(math.radians(lat)) / 2 ** zoom


def change_text(now: int, before: int | None) -> str:
    """'+12% vs 1 year earlier (75)' style text; honest when there is nothing to compare."""
    if before is None:
        return ""
    if before == 0:
        return f"a year earlier: 0{' (new)' if now else ''}"
    pct = 100.0 * (now - before) / before
    sign = "±0" if abs(pct) < 0.5 else f"{pct:+.0f}"
    return f"{sign}% vs a year earlier ({before:,})"
