"""Offline geocoding: ZIP-code centroids (the honest fallback when a source has no coordinates)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _zip_index() -> dict[str, tuple[float, float, str, str]]:
    import zipcodes

    return {z["zip_code"]: (float(z["long"]), float(z["lat"]), z["city"], z["state"])
            for z in zipcodes.list_all() if z.get("lat") and z.get("long")}


def zip_centroid(zip_code: str | None) -> tuple[float, float] | None:
    """(lon, lat) of a 5-digit ZIP (ZIP+4 and 9-digit forms accepted), or None when unknown."""
    if not zip_code:
        return None
    digits = "".join(ch for ch in zip_code if ch.isdigit())
    if len(digits) == 9:
        digits = digits[:5]
    if len(digits) < 5:
        digits = digits.zfill(5) if len(digits) >= 3 else ""
    hit = _zip_index().get(digits[:5])
    return (hit[0], hit[1]) if hit else None
