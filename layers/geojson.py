"""Shared helpers for data products that return GeoJSON-like dicts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def feature_collection(rows: Iterable[Mapping[str, Any]], geometry_key: str = "geometry") -> dict:
    """Rows carrying a GeoJSON geometry (text or dict) under `geometry_key` -> a FeatureCollection."""
    features = []
    for row in rows:
        props = {k: v for k, v in row.items() if k != geometry_key}
        geometry = row[geometry_key]
        if isinstance(geometry, str):
            geometry = json.loads(geometry)
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}
