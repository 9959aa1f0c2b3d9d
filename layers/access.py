"""The one gate for personal data: who may see people, serials, trace numbers and exact addresses.

Every data product that returns such fields asks `personal_data_allowed(viewer)` and redacts with
`redact()` otherwise, and calls `record_access()` when it hands out identified records, so that an
audit trail (CJIS 5.4) can be written in one place. Until sign-in exists every visitor gets the
role in CGA_ROLE (default: press — aggregates only), enforced here on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from layers import settings

ROLES = ("admin", "commander", "detective", "analyst", "press")
# Roles that may see identified records (people, serials, trace numbers, exact addresses).
PERSONAL_DATA_ROLES = frozenset({"admin", "detective", "analyst"})

# Fields that identify a person or a case; redacted for roles without personal-data access.
PERSONAL_FIELDS = frozenset({
    "last_name", "first_name", "dob", "person_name", "street", "address", "serial_number", "trace_number",
    "case_number", "cc_number", "purchaser", "possessor", "associate", "license_name",
})

audit_log = logging.getLogger("crimegun.audit")


@dataclass(frozen=True)
class Viewer:
    user: str
    role: str

    @property
    def personal_data(self) -> bool:
        return personal_data_allowed(self)


def current_viewer() -> Viewer:
    """The viewer of this request. Until sign-in lands, everyone has the configured role."""
    role = str(settings.get("CGA_ROLE")).lower()
    if role not in ROLES:
        raise settings.SettingError(f"CGA_ROLE={role!r} is not one of {', '.join(ROLES)}")
    return Viewer(user="anonymous", role=role)


def personal_data_allowed(viewer: Viewer) -> bool:
    return viewer.role in PERSONAL_DATA_ROLES


def redact(row: Mapping[str, Any], viewer: Viewer) -> dict[str, Any]:
    """A copy of the row with personal fields blanked when the viewer may not see them."""
    if personal_data_allowed(viewer):
        return dict(row)
    return {k: ("[restricted]" if k in PERSONAL_FIELDS and v is not None else v) for k, v in row.items()}


def record_access(viewer: Viewer, action: str, kind: str, ids: Iterable[Any]) -> None:
    """Note that identified records were read. Written to the audit logger; a table follows with sign-in."""
    ids = list(ids)
    if ids:
        audit_log.info("user=%s role=%s action=%s kind=%s ids=%s", viewer.user, viewer.role, action, kind,
                       ",".join(map(str, ids[:200])))
