"""Every setting, declared once with its name, default and help.

Settings come from the environment (or a `.env` file in the project root). `.env.example` is
generated from this table (`crimegun settings --env-example`) and a test keeps it in sync.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    cast: Callable[[str], Any] = str
    minimum: int | None = None
    maximum: int | None = None


class SettingError(ValueError):
    """A setting has a value that cannot be used; the message says which and why."""


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "", "PostgreSQL+PostGIS URL (postgresql://user:pass@host:port/db). "
            "Empty: use the embedded cluster that `crimegun db start` manages."),
    Setting("CGA_WEB_DATABASE_URL", "", "Login of the dashboard's own database role `crimegun_web` "
            "(postgresql://crimegun_web:pass@host:port/db). Empty: the embedded cluster's generated one; with an "
            "external DATABASE_URL and no web login the dashboard falls back to SET ROLE over the owner's login."),
    Setting("CGA_DATA_DIR", "var", "Where the embedded database, synthetic data and logs live "
            "(relative paths are inside the project)."),
    Setting("CGA_DB_NAME", "crimegun", "Database name inside the embedded cluster."),
    Setting("CGA_DB_OS_USER", "postgres", "Unprivileged OS user that runs the embedded cluster when "
            "crimegun is invoked as root (PostgreSQL refuses to run as root)."),
    Setting("CGA_STATEMENT_TIMEOUT_MS", 10000, "Time limit for every query the dashboard runs.",
            int, 100, 600000),
    Setting("CGA_AGENCY", "MDBPD0000", "ORI of the agency whose data is loaded when a file does not say."),
    Setting("CGA_HOME_STATE", "MD", "State of the agency: guns first sold elsewhere are out-of-state."),
    Setting("CGA_HOME_COUNTY_FIPS", "510", "County FIPS code of the city in FFL numbers (Baltimore City: 510): "
            "guns first sold by dealers elsewhere are out-of-city."),
    Setting("CGA_TZ_SHOTS", "", "Clock of ShotSpotter files whose times carry no UTC offset: an IANA zone "
            "(America/Chicago), UTC, local or an offset (-05:00). Empty: each layout's documented clock (all "
            "ShotSpotter layouts publish local time). `crimegun load --timezone` overrides it for one load."),
    Setting("CGA_TZ_INCIDENTS", "", "Clock of incident files whose times carry no UTC offset (as CGA_TZ_SHOTS). "
            "Empty: each layout's documented clock (the 2022-on Open Baltimore download in UTC, older "
            "exports in local time)."),
    Setting("CGA_SECRET_KEY", "", "Key that signs session cookies. Empty: one is generated once in "
            "<data dir>/secret_key (readable by its owner only). Set the same value on every server of a farm."),
    Setting("CGA_ALLOWED_HOSTS", "127.0.0.1,localhost", "Host names the dashboard answers to (comma-separated); "
            "requests for any other Host header are refused."),
    Setting("CGA_SESSION_IDLE_MINUTES", 30, "Sign a user out after this many minutes without activity "
            "(background refreshes do not count).", int, 1, 720),
    Setting("CGA_LOCKOUT_ATTEMPTS", 5, "Failed sign-ins in a row that lock an account.", int, 1, 100),
    Setting("CGA_LOCKOUT_MINUTES", 10, "How long a locked account stays locked.", int, 1, 1440),
    Setting("CGA_MFA_REQUIRED", "personal", "Who must use a second factor (TOTP) with a local password: all, "
            "personal (roles that see personal data: detective, analyst, admin) or none."),
    Setting("CGA_TOTP_ISSUER", "Crime Gun Atlas", "Name authenticator apps show next to the code."),
    Setting("CGA_LOGIN_BANNER", "This system holds criminal justice information. Use is restricted to "
            "authorized personnel for authorized purposes, and is monitored and recorded. Unauthorized use may "
            "result in criminal prosecution.", "Notice shown on the sign-in page (CJIS 5.5.4)."),
    Setting("CGA_SECURE_COOKIES", "auto", "Send cookies over HTTPS only: true, false, or auto (true unless the "
            "dashboard is reached over plain HTTP on this machine's loopback address)."),
    Setting("CGA_TRUSTED_PROXIES", 0, "Reverse proxies in front of the dashboard whose X-Forwarded-* headers are "
            "trusted (for HTTPS and client addresses).", int, 0, 5),
    Setting("CGA_OIDC_ISSUER", "", "OpenID Connect issuer URL for single sign-on (its "
            "/.well-known/openid-configuration is read). Empty: local accounts only."),
    Setting("CGA_OIDC_CLIENT_ID", "", "OpenID Connect client id registered for the dashboard."),
    Setting("CGA_OIDC_CLIENT_SECRET", "", "OpenID Connect client secret."),
    Setting("CGA_OIDC_LABEL", "agency single sign-on", "Text of the single-sign-on button."),
    Setting("CGA_OIDC_USERNAME_CLAIM", "preferred_username", "ID-token claim used as the account name."),
    Setting("CGA_OIDC_ROLE_CLAIM", "roles", "ID-token claim (a string or a list) holding the user's groups or "
            "roles."),
    Setting("CGA_OIDC_ROLE_MAP", "", "How provider groups become roles: group=role,... (e.g. "
            "gun-unit=detective,cmd-staff=commander). Without it a claim value equal to a role name is used. "
            "Users with no mapped role cannot sign in."),
    Setting("CGA_AUDIT_RETENTION_DAYS", 365, "Days audit events are kept before `crimegun audit purge` may "
            "remove them (CJIS: at least one year).", int, 365, 36500),
    Setting("CGA_SMALL_COUNT", 5, "Counts from 1 up to this value minus one are suppressed in what press and "
            "commander roles see and export.", int, 1, 100),
    Setting("CGA_PRESS_GRID_M", 500, "Size in metres of the coarsest density cells: the finest location the "
            "press role ever receives.", int, 250, 5000),
    Setting("CGA_HOST", "127.0.0.1", "Address the dashboard listens on."),
    Setting("CGA_PORT", 8050, "Port the dashboard listens on.", int, 1, 65535),
    Setting("CGA_TILE_URL", "", "Basemap tile URL template ({z}/{x}/{y}); empty shows no basemap "
            "(outlines and labels stay readable). Point it at the agency's own tile server."),
    Setting("CGA_TILE_ATTRIBUTION", "", "Attribution text shown for the basemap tiles."),
    Setting("CGA_MAX_POINTS", 3000, "Most raw points sent to the browser for one layer and view; "
            "beyond it the map shows aggregated cells and asks to zoom in.", int, 100, 100000),
    Setting("CGA_SYNTH_SEED", 2021, "Seed of the synthetic Baltimore used by `crimegun demo`.", int),
    Setting("CGA_SYNTH_YEARS", "2021-2025", "Years of synthetic data generated for the demo (A-B)."),
    Setting("CGA_SYNTH_SCALE", 1.0, "Scale of the synthetic data (1 = Baltimore-sized).", float),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _dotenv() -> dict[str, str]:
    path = PROJECT_ROOT / ".env"
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def get(name: str) -> Any:
    """The value of one setting: environment, then `.env`, then the default; validated."""
    setting = _BY_NAME[name]
    raw = os.environ.get(name)
    if raw is None:
        raw = _dotenv().get(name)
    if raw is None or raw == "":
        return setting.default
    try:
        value = setting.cast(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a valid {setting.cast.__name__}: {setting.help}") from None
    if setting.minimum is not None and value < setting.minimum:
        raise SettingError(f"{name}={value} is below the minimum {setting.minimum}")
    if setting.maximum is not None and value > setting.maximum:
        raise SettingError(f"{name}={value} is above the maximum {setting.maximum}")
    return value


def data_dir() -> Path:
    path = Path(get("CGA_DATA_DIR"))
    return path if path.is_absolute() else PROJECT_ROOT / path


def env_example() -> str:
    lines = ["# Crime Gun Atlas settings (generated by `crimegun settings --env-example`).",
             "# Copy to .env and uncomment what you change.", ""]
    for s in SETTINGS:
        lines.append(f"# {s.help}")
        lines.append(f"# {s.name}={s.default}")
        lines.append("")
    return "\n".join(lines)


def describe() -> list[tuple[str, str, str]]:
    """(name, current value, help) for every setting; secrets in URLs are masked."""
    rows = []
    for s in SETTINGS:
        value = str(get(s.name))
        if s.name == "DATABASE_URL" and "@" in value:
            scheme, _, rest = value.partition("://")
            value = f"{scheme}://***@{rest.split('@', 1)[1]}"
        rows.append((s.name, value, s.help))
    return rows
