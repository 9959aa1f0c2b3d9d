"""ATF Listing of Federal Firearms Licensees (current and older layouts), geocoded offline."""

from __future__ import annotations

from etl.errors import RowError
from etl.geocode import zip_centroid
from etl.parse import _inside, blank, normalize_zip, parse_point, point_wkt, upper
from etl.sources.base import Layout, LoadContext, Source, schema_widths, upsert

_LIC = frozenset({"lic_regn", "lic_dist", "lic_cnty", "lic_type", "lic_seqn"})

# The states and Caribbean territories (west to Alaska's Aleutians), and the Pacific territories (Guam, CNMI).
US_REGIONS = ((-180.0, 17.5, -64.0, 72.0), (144.0, 13.0, 146.5, 21.0))

COLUMNS = ("ffl_key", "license_number", "lic_regn", "lic_dist", "lic_cnty", "lic_type", "lic_xprdte",
           "lic_seqn", "license_name", "business_name", "premise_street", "premise_city", "premise_state",
           "premise_zip", "mail_street", "mail_city", "mail_state", "mail_zip", "voice_phone", "source",
           "geocode_precision", "geom")


class Dealers(Source):
    kind = "dealers"
    layouts = (
        Layout("atf-ffl-list", _LIC | {"lic_xprdte", "license_name", "premise_state", "premise_zip_code"},
               frozenset({"business_name", "premise_street", "premise_city", "mail_street", "mail_city",
                          "mail_state", "mail_zip_code", "voice_phone", "latitude", "longitude"}),
               "ATF Listing of Federal Firearms Licensees"),
    )
    staging = tuple((c, "geometry(Point,4326)" if c == "geom" else "text") for c in COLUMNS)
    key = ("ffl_key",)

    def widths(self) -> dict[str, int]:
        return schema_widths("dealer", COLUMNS)

    def parse(self, rec: dict[str, str], ctx: LoadContext) -> dict:
        parts = {}
        for name, width in (("lic_regn", 1), ("lic_dist", 2), ("lic_cnty", 3), ("lic_type", 2), ("lic_seqn", 5)):
            value = blank(rec.get(name))
            if not value or not value.isdigit() or len(value) > width:
                raise RowError(f"{name.upper()} {value!r} is not a {width}-digit number")
            parts[name] = value.zfill(width)
        xpr = upper(rec.get("lic_xprdte"))
        key = f"{parts['lic_regn']}-{parts['lic_dist']}-{parts['lic_cnty']}-{parts['lic_type']}-{parts['lic_seqn']}"
        state = upper(rec.get("premise_state"))
        if not state or len(state) != 2:
            raise RowError(f"PREMISE_STATE {rec.get('premise_state')!r} is not a 2-letter state")
        zip_code = normalize_zip(rec.get("premise_zip_code"), "PREMISE_ZIP_CODE")
        # Licensees are nationwide: their coordinates must lie in the United States, not the agency's region.
        point = parse_point(rec.get("longitude"), rec.get("latitude"), "LONGITUDE/LATITUDE")
        if point and not any(_inside(*point, box) for box in US_REGIONS):
            if any(_inside(point[1], point[0], box) for box in US_REGIONS):
                raise RowError(f"LONGITUDE/LATITUDE {point}: latitude and longitude look swapped")
            raise RowError(f"LONGITUDE/LATITUDE {point} is outside the United States")
        precision = "given"
        if point is None:
            point = zip_centroid(zip_code)
            precision = "zip" if point else "none"
        return {
            "ffl_key": key,
            "license_number": f"{parts['lic_regn']}-{parts['lic_dist']}-{parts['lic_cnty']}-{parts['lic_type']}-"
                              f"{xpr + '-' if xpr else ''}{parts['lic_seqn']}",
            **parts,
            "lic_xprdte": xpr,
            "license_name": upper(rec.get("license_name")),
            "business_name": upper(rec.get("business_name")),
            "premise_street": upper(rec.get("premise_street")),
            "premise_city": upper(rec.get("premise_city")),
            "premise_state": state,
            "premise_zip": zip_code,
            "mail_street": upper(rec.get("mail_street")),
            "mail_city": upper(rec.get("mail_city")),
            "mail_state": upper(rec.get("mail_state")),
            "mail_zip": blank(rec.get("mail_zip_code")),
            "voice_phone": blank(rec.get("voice_phone")),
            "source": "ffl_list",
            "geocode_precision": precision,
            "geom": point_wkt(point),
        }

    def merge(self, cur, run_id: int) -> tuple[int, int]:
        return upsert(cur, "dealer", COLUMNS, ("ffl_key",), run_id)
