"""The values press and commander must never receive, read from the test database itself, and a matcher
that finds them in a response body (case-insensitive, whole tokens, raw and JSON-decoded)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from layers.access import dealer_is_individual

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = 2000
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")
_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}\.(\d+)")
_BLOCK = re.compile(r"^\d*00 ")
_MONTHS = ("january february march april may june july august september october november december "
           "monday tuesday wednesday thursday friday saturday sunday")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _distinct(sql: Callable, column: str, table: str, limit: int = SAMPLE) -> list:
    """Up to `limit` distinct non-null values of a column, spread over it (ordered by a hash)."""
    return [r[0] for r in sql(f"SELECT v FROM (SELECT DISTINCT {column} AS v FROM {table}) s WHERE v IS NOT NULL "
                              f"ORDER BY md5(v::text) LIMIT {limit}")]


def public_vocabulary(sql: Callable) -> set[str]:
    """Words that are not personal data wherever they appear: the application's own text (labels, month
    names, help) and public columns (makers, districts, crime descriptions, business names, cities). A
    person whose surname is SMITH or whose given name is JUNE cannot be told apart from "Smith & Wesson" or
    the month by string search, so such single-word names are left out of the list (the seeded names are
    unmistakable and always kept)."""
    words: set[str] = set(tokens(_MONTHS))
    for folder in ("dashboard", "layers", "assets/js"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".js", ".html") and path.is_file():
                words.update(tokens(path.read_text(errors="replace")))
    for query in ("SELECT manufacturer || ' ' || coalesce(model, '') || ' ' || coalesce(caliber, '') || ' ' || "
                  "coalesce(importer, '') || ' ' || coalesce(country_of_origin, '') FROM firearm",
                  "SELECT coalesce(description, '') || ' ' || coalesce(neighborhood, '') || ' ' || "
                  "coalesce(premise, '') || ' ' || coalesce(reported_district, '') FROM incident",
                  "SELECT name FROM boundary",
                  "SELECT coalesce(business_name, '') || ' ' || coalesce(premise_city, '') FROM dealer",
                  "SELECT coalesce(address, '') FROM shot_alert",
                  "SELECT coalesce(city, '') FROM recovery"):
        for (text,) in sql(f"SELECT DISTINCT t FROM ({query}) AS q(t)"):
            words.update(tokens(text or ""))
    return words


def coordinates(sql: Callable) -> list[tuple[float, float]]:
    points = []
    for table in ("recovery", "incident", "shot_alert"):
        points += sql(f"SELECT ST_X(geom), ST_Y(geom) FROM {table} WHERE geom IS NOT NULL "
                      f"ORDER BY md5(id::text) LIMIT {SAMPLE}")
    return points


def forbidden_values(sql: Callable, seeds: dict) -> dict[str, set[str]]:
    """Category -> values, from the personal-data columns of the database (plus the seeds)."""
    vocabulary = public_vocabulary(sql)
    out: dict[str, set[str]] = {}

    def add(category: str, values: Iterable, single_word_filter: bool = False, min_len: int = 4):
        kept = out.setdefault(category, set())
        for v in values:
            v = str(v).strip()
            toks = tokens(v)
            if len(v) < min_len or not toks:
                continue
            if toks[0].isdigit() and len(toks) == 1 and len(v) < 6:
                continue  # short numbers: indistinguishable from counts
            if single_word_filter and all(t in vocabulary for t in toks):
                continue
            kept.add(v)

    add("person name", _distinct(sql, "last_name", "pii.person") + _distinct(sql, "first_name", "pii.person"),
        single_word_filter=True)
    add("person name", [seeds["last_name"], seeds["first_name"]])
    add("date of birth", [d.isoformat() for d in _distinct(sql, "dob", "pii.person")] + [seeds["dob"]])
    add("serial number", _distinct(sql, "serial_number", "firearm") + [seeds["serial"]])
    add("trace number", _distinct(sql, "trace_number", "trace") + [seeds["trace"]])
    add("case number", _distinct(sql, "case_number", "trace") + _distinct(sql, "case_number", "recovery")
        + _distinct(sql, "cc_number", "incident") + [seeds["case"], seeds["cc"]])
    # A hundred-block ("1200 ST PAUL ST") is how Open Baltimore publishes incident locations, and the map shows
    # top blocks; an address with any other house number is a place, not a block.
    add("exact address", [a for a in _distinct(sql, "street", "recovery") + _distinct(sql, "street", "pii.person")
                          + _distinct(sql, "location", "incident") if not _BLOCK.match(a)] + [seeds["street"]])
    individuals = [(lic, street) for biz, lic, street in sql(
        "SELECT business_name, license_name, premise_street FROM dealer") if dealer_is_individual(biz, lic)]
    add("individual licensee", [lic for lic, _ in individuals if lic] + [seeds["license_name"]],
        single_word_filter=True)
    add("individual licensee address", [street for _, street in individuals if street] + [seeds["premise_street"]])
    add("rejected raw text", _distinct(sql, "raw", "etl_rejected_row") + [seeds["raw"], "ZZLEAKRAW"])
    return out


def _file_text(data: bytes) -> str:
    """What a downloaded file says: a PDF's extracted text (its compressed streams would match names by
    chance), nothing of a PNG's pixels, any other file as text."""
    if data[:4] == b"%PDF":
        import io

        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ""
    return data.decode("utf-8", "replace")


def _downloads(node) -> list[str]:
    """The files a response sends (dcc.Download: base64 content), decoded."""
    out = []
    if isinstance(node, dict):
        if node.get("base64") and isinstance(node.get("content"), str):
            out.append(_file_text(base64.b64decode(node["content"])))
        for value in node.values():
            out += _downloads(value)
    elif isinstance(node, list):
        for value in node:
            out += _downloads(value)
    return out


def _fmt(value: float, decimals: int) -> str:
    """The number as JSON or text would show it rounded to `decimals` places (no trailing zeros)."""
    text = f"{value:.{decimals}f}".rstrip("0")
    return text if not text.endswith(".") else text[:-1]


class Matcher:
    """Finds forbidden values (as token sequences) and exact coordinates in a text."""

    def __init__(self, values: dict[str, set[str]], points: list[tuple[float, float]],
                 seed_points: list[tuple[float, float]], min_decimals: int):
        self.index: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        for category, vals in values.items():
            for v in vals:
                toks = tuple(tokens(v))
                self.index.setdefault(toks[0], []).append((toks, category, v))
        # A coordinate is a pair: a longitude and, close to it, the latitude of the same point, each to at
        # least so many places (a lone number could be a district outline's vertex by chance). The seeded
        # points are checked from the role's limit on; the database's many points from 5 places on (at 4, an
        # outline vertex falls within 10 m of one of thousands of points by chance).
        self.indexes = [self._index(points, max(min_decimals, 5)), self._index(seed_points, min_decimals)]
        self.size = sum(len(v) for v in values.values())

    def _values(self, text: str) -> set[tuple[str, str]]:
        toks = tokens(text)
        hits = set()
        for i, t in enumerate(toks):
            for seq, category, value in self.index.get(t, ()):
                if tuple(toks[i:i + len(seq)]) == seq:
                    hits.add((category, value))
        return hits

    @staticmethod
    def _index(points, min_decimals: int):
        lons: dict[str, set[int]] = {}
        lats: dict[str, set[int]] = {}
        for i, (lon, lat) in enumerate(points):
            for d in range(min_decimals, 16):
                lons.setdefault(_fmt(lon, d), set()).add(i)
                lats.setdefault(_fmt(lat, d), set()).add(i)
            lons.setdefault(repr(float(lon)), set()).add(i)
            lats.setdefault(repr(float(lat)), set()).add(i)
        return lons, lats, min_decimals

    def _coordinates(self, text: str) -> set[tuple[str, str]]:
        found = [(m.start(), m.group(0), len(m.group(1))) for m in _NUMBER.finditer(text)]
        hits = set()
        for lons, lats, min_decimals in self.indexes:
            numbers = [(pos, n) for pos, n, d in found if d >= min_decimals]
            for i, (pos, number) in enumerate(numbers):
                points = lons.get(number)
                if not points:
                    continue
                for other_pos, other in numbers[max(0, i - 3):i + 4]:
                    if abs(other_pos - pos) < 80 and points & lats.get(other, set()):
                        hits.add(("coordinate finer than allowed", f"{number} {other}"))
        return hits

    def find(self, body: str) -> set[tuple[str, str]]:
        texts = [body]
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if decoded is not None:
            texts.append(json.dumps(decoded, ensure_ascii=False))
            texts += _downloads(decoded)
        hits: set[tuple[str, str]] = set()
        for text in texts:
            hits |= self._values(text) | self._coordinates(text)
        return hits
