"""The one gate: which role may see which data, decided on the server for every data product.

Roles (least privilege):

| role | sees |
|---|---|
| press | aggregates only: district figures, coarse density cells (CGA_PRESS_GRID_M), public charts with
|         small counts suppressed; no record pages, no points, no individual licensees |
| commander | maps and statistics: points rounded to ~100 m (a block), no people, serial, trace or case
|             numbers, exact addresses or licensee names of individuals; no record pages |
| detective, analyst | records: people, serials, trace and case numbers, exact addresses (audited) |
| admin | records, plus the audit trail |

The viewer of the current request is set by the dashboard after sign-in (`use_viewer`); code that
runs outside a request (the CLI, tests) passes a `Viewer` explicitly or sets one. Without a viewer
nothing is allowed. A display name that may be a person's (an individual licensee) is personal
data too: `dealer_name` decides it here, wherever it is shown.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from layers import settings

ROLES = ("admin", "analyst", "detective", "commander", "press")

# What each role may do. One table, read by every data product through `allowed` / `require`.
CAPABILITIES: dict[str, frozenset[str]] = {
    "press": frozenset({"map", "charts", "data"}),
    "commander": frozenset({"map", "charts", "data", "points", "dealers"}),
    "detective": frozenset({"map", "charts", "data", "points", "dealers", "records", "personal"}),
    "analyst": frozenset({"map", "charts", "data", "points", "dealers", "records", "personal"}),
    "admin": frozenset({"map", "charts", "data", "points", "dealers", "records", "personal", "audit"}),
}
# Capabilities that need a stated purpose (case number or reason) in a dashboard session.
PURPOSE_CAPABILITIES = frozenset({"records", "personal"})

# Fields that identify a person or a case; blanked for viewers without the `personal` capability.
PERSONAL_FIELDS = frozenset({
    "last_name", "first_name", "dob", "person_name", "street", "address", "serial_number", "trace_number",
    "case_number", "cc_number", "purchaser", "possessor", "associate", "license_name", "premise_street",
    "location", "raw",
})
RESTRICTED = "[restricted]"
COMMANDER_DECIMALS = 3   # ~110 m north-south, ~85 m east-west at Baltimore: a block, as DC publishes alerts

# Names that are organisations, not people, when a licence has no separate business name.
_ORGANISATION = re.compile(
    r"\b(INC|INCORPORATED|LLC|L\.L\.C|LLP|LP|LTD|CORP|CORPORATION|CO|COMPANY|ENTERPRISES?|TRUST|"
    r"ASSOCIATES|GROUP|HOLDINGS|PAWN|OUTFITTERS|ARMS|SPORTS|SPORTING|GUNS?|FIREARMS)\b\.?", re.I)


class Denied(PermissionError):
    """The viewer's role may not have this; the message says what would be needed."""

    def __init__(self, capability: str, viewer: Viewer):
        self.capability, self.viewer = capability, viewer
        need = ", ".join(r for r, caps in CAPABILITIES.items() if capability in caps) or "no role"
        who = f"the {viewer.role} role" if viewer.role else "a visitor who has not signed in"
        self.needs_purpose = viewer.needs_purpose and capability in PURPOSE_CAPABILITIES and \
            capability in CAPABILITIES.get(viewer.role or "", frozenset())
        if self.needs_purpose:
            super().__init__("give the case number or reason for this session first (it is recorded with "
                             "every record you open)")
        else:
            super().__init__(f"not available to {who} (needs the role: {need})")


@dataclass(frozen=True)
class Viewer:
    """Who is asking: account name, role, and for the audit trail the session, address and purpose."""

    user: str
    role: str | None
    purpose: str | None = None
    session: str | None = None
    ip: str | None = None
    # Signed in through the dashboard without having given a case number or reason yet: records and
    # personal data wait until one is given (it goes into every audit event of the session).
    needs_purpose: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def can(self, capability: str) -> bool:
        if self.needs_purpose and capability in PURPOSE_CAPABILITIES:
            return False
        return capability in CAPABILITIES.get(self.role or "", frozenset())

    @property
    def personal_data(self) -> bool:
        return self.can("personal")

    @property
    def signed_in(self) -> bool:
        return self.role in CAPABILITIES


NOBODY = Viewer(user="", role=None)
SYSTEM = Viewer(user="system", role="admin", purpose="command line")

_current: contextvars.ContextVar[Viewer] = contextvars.ContextVar("crimegun_viewer", default=NOBODY)


def current_viewer() -> Viewer:
    """The viewer of this request (NOBODY outside a signed-in request)."""
    return _current.get()


def set_viewer(viewer: Viewer) -> contextvars.Token:
    return _current.set(viewer)


@contextmanager
def use_viewer(viewer: Viewer) -> Iterator[Viewer]:
    token = _current.set(viewer)
    try:
        yield viewer
    finally:
        _current.reset(token)


def allowed(capability: str, viewer: Viewer | None = None) -> bool:
    return (viewer or current_viewer()).can(capability)


def require(capability: str, viewer: Viewer | None = None) -> Viewer:
    """The viewer, if it has the capability; otherwise `Denied` (nothing is read)."""
    viewer = viewer or current_viewer()
    if not viewer.can(capability):
        raise Denied(capability, viewer)
    return viewer


def personal_data_allowed(viewer: Viewer) -> bool:
    return viewer.personal_data


_HOUSE_NUMBER = re.compile(r"^\s*(\d+)[A-Z]?(?:-\d+)?\s+(.+)$", re.I)

# An incident's place as SQL, at block level (what roles without personal data may see): the same rule as
# `block_of`, so counts grouped by it match.
BLOCK_SQL = ("CASE WHEN {col} ~ '^\\s*[0-9]+[A-Za-z]?(-[0-9]+)?\\s+' THEN "
             "((substring({col} from '^\\s*([0-9]+)')::bigint / 100) * 100)::text || ' block ' || "
             "regexp_replace({col}, '^\\s*[0-9]+[A-Za-z]?(-[0-9]+)?\\s+', '') ELSE {col} END")


def block_of(address: str | None) -> str | None:
    """An address at block level: '1234 N MOUNT ST' -> '1200 block N MOUNT ST' (as police publish
    incident locations); text without a house number (an intersection, a street) is kept."""
    if not address:
        return address
    m = _HOUSE_NUMBER.match(address)
    if not m:
        return address.strip()
    return f"{int(m.group(1)) // 100 * 100} block {m.group(2).strip()}"


def redact(row: Mapping[str, Any], viewer: Viewer) -> dict[str, Any]:
    """A copy of the row with personal fields blanked when the viewer may not see them; an incident's
    location becomes its block for viewers who see points (commanders)."""
    if viewer.personal_data:
        return dict(row)
    out = {}
    for k, v in row.items():
        if k == "location" and v is not None and viewer.can("points"):
            out[k] = block_of(v)
        else:
            out[k] = RESTRICTED if k in PERSONAL_FIELDS and v is not None else v
    return out


def is_organisation(name: str | None) -> bool:
    return bool(name and _ORGANISATION.search(name))


def dealer_name(business_name: str | None, license_name: str | None, viewer: Viewer,
                city: str | None = None, state: str | None = None) -> str:
    """The name a dealer is shown under. A licensee's own name is a person's name unless it is plainly an
    organisation; without the `personal` capability it becomes 'Individual licensee (city, state)'."""
    business = (business_name or "").strip()
    licensee = (license_name or "").strip()
    if viewer.personal_data:
        return business or licensee or "Dealer"
    if business and business.upper() != licensee.upper():
        return business
    if licensee and is_organisation(licensee):
        return licensee
    if business and is_organisation(business):
        return business
    where = ", ".join(x for x in ((city or "").title(), state) if x)
    return f"Individual licensee ({where})" if where else "Individual licensee"


def dealer_is_individual(business_name: str | None, license_name: str | None) -> bool:
    """True when the only name a dealer has may be a person's."""
    anon = Viewer("", "commander")
    return dealer_name(business_name, license_name, anon).startswith("Individual licensee")


def point_precision(viewer: Viewer) -> int | None:
    """Decimal places of coordinates the viewer may receive: None = exact; 0 = no points at all."""
    if viewer.personal_data:
        return None
    if viewer.can("points"):
        return COMMANDER_DECIMALS
    return 0


def coarse(value: float | None, viewer: Viewer) -> float | None:
    """A coordinate as precise as the viewer may see it."""
    if value is None:
        return None
    places = point_precision(viewer)
    if places == 0:
        raise Denied("points", viewer)
    return value if places is None else round(float(value), places)


def small_count_threshold() -> int:
    return int(settings.get("CGA_SMALL_COUNT"))


def suppress(n: int | None, viewer: Viewer | None = None) -> int | None:
    """Counts from 1 to CGA_SMALL_COUNT - 1 become None for aggregate-only viewers (press)."""
    viewer = viewer or current_viewer()
    if n is None or viewer.can("points"):
        return n
    return None if 0 < n < small_count_threshold() else n


def record_access(viewer: Viewer, action: str, kind: str, ids: Iterable[Any]) -> None:
    """Write to the audit trail that identified records were read (nothing when ids is empty)."""
    from layers.access import audit

    ids = list(ids)
    if ids:
        audit.record(viewer, action, kind=kind, ids=ids)
