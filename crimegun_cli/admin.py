"""`crimegun` administration: the database, accounts, the audit trail and settings."""

from __future__ import annotations

import os
import sys

import click

from layers import settings

# --- database -------------------------------------------------------------------------------

@click.group()
def db() -> None:
    """Manage the database (the embedded PostGIS, or DATABASE_URL)."""


@db.command("start")
@click.option("--quiet", is_flag=True, help="Print nothing when all is well.")
def db_start(quiet: bool) -> None:
    """Create (once) and start the embedded PostGIS cluster, then bring the schema up to date."""
    from layers import cluster, migrate
    from layers.db import engine

    cluster.start(quiet=quiet, echo=click.echo)
    migrate.upgrade(engine())


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster cleanly."""
    from layers import cluster

    cluster.stop(echo=click.echo)


@db.command("status")
def db_status() -> None:
    """Say where the database is, whether it runs, and its schema revision."""
    from sqlalchemy import text

    from layers import cluster, migrate
    from layers.db import engine

    st = cluster.status()
    if not st.managed:
        click.echo(f"DATABASE_URL: {st.url} ({'reachable' if st.running else 'NOT reachable'})")
    elif not st.initialized:
        click.echo("Embedded database: not created yet (run `crimegun db start`)")
        return
    else:
        click.echo(f"Embedded database: {'running' if st.running else 'stopped'} on 127.0.0.1:{st.port}")
        click.echo(f"Data directory:    {st.data_dir}")
        click.echo(f"URL:               {st.url}")
    if st.running:
        click.echo(f"Schema revision:   {migrate.current_revision(engine()) or 'none (run crimegun db upgrade)'}")
        with engine().connect() as conn:
            aside = conn.execute(text("SELECT table_name, count(*) FROM etl_deferred_index GROUP BY 1 ORDER BY 1")
                                 ).all() if conn.execute(text("SELECT to_regclass('etl_deferred_index')")).scalar() else []
        for table, n in aside:
            click.echo(f"Indexes set aside: {n} of {table}, by a batch of loads (loading now, or stopped: the next "
                       "load or `crimegun derive` builds them again)")
    else:
        sys.exit(1)


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations."""
    from layers import migrate
    from layers.db import engine

    migrate.upgrade(engine())
    click.echo(f"Schema at revision {migrate.current_revision(engine())}")


# --- accounts and audit ----------------------------------------------------------------------

def _connect() -> None:
    from layers import cluster, migrate
    from layers.db import engine

    if cluster.managed():
        cluster.start(quiet=True)
    migrate.upgrade(engine())


def _admin_event(action: str, username: str, **detail) -> None:
    from layers.access import SYSTEM, audit

    who = os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"
    audit.record(SYSTEM, "admin", kind="account", ids=[username],
                 detail={"action": action, "os_user": who, **detail})


@click.group()
def users() -> None:
    """Accounts: add, list, disable, enable, reset passwords and second factors, change roles."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "analyst", "detective", "commander", "press"]))
@click.option("--name", "display_name", help="Full name shown in the audit trail.")
@click.option("--password", help="Initial password (default: a generated one, printed once).")
def users_add(username, role, display_name, password) -> None:
    """Create a local account."""
    from layers.access import accounts

    _connect()
    acct, pw = accounts.create(username, role, password, display_name)
    _admin_event("add", acct.username, role=role)
    click.echo(f"Created {acct.username} ({acct.role}). Password: {pw}")
    if accounts.mfa_required(role):
        click.echo("A second factor (TOTP) will be set up at the first sign-in.")


@users.command("list")
def users_list() -> None:
    """Every account with its role and state."""
    from layers.access import accounts

    _connect()
    for a in accounts.list_accounts():
        state = "disabled" if a.disabled else "locked" if a.locked_until else "active"
        click.echo(f"{a.username:<24} {a.role:<10} {a.source:<6} {state:<8} "
                   f"{'TOTP' if a.totp_enabled else 'no TOTP':<8} last sign-in {a.last_login or 'never'}")


def _simple_user_command(name: str, help_text: str, action):
    @users.command(name, help=help_text)
    @click.argument("username")
    def command(username):
        _connect()
        message = action(username)
        _admin_event(name, username)
        click.echo(message)
    return command


def _do_disable(u):
    from layers.access import accounts
    return f"{accounts.set_disabled(u, True).username} is disabled: it cannot sign in."


def _do_enable(u):
    from layers.access import accounts
    return f"{accounts.set_disabled(u, False).username} is enabled."


def _do_unlock(u):
    from layers.access import accounts
    return f"{accounts.unlock(u).username} is unlocked."


def _do_reset_totp(u):
    from layers.access import accounts
    return f"{accounts.reset_totp(u).username} will set up a new second factor at the next sign-in."


_simple_user_command("disable", "Stop an account from signing in (kept for the audit trail).", _do_disable)
_simple_user_command("enable", "Allow a disabled account to sign in again.", _do_enable)
_simple_user_command("unlock", "Lift a lockout after failed sign-ins.", _do_unlock)
_simple_user_command("reset-totp", "Forget an account's second factor (it sets up a new one).", _do_reset_totp)


@users.command("reset")
@click.argument("username")
@click.option("--password", help="New password (default: a generated one, printed once).")
def users_reset(username, password) -> None:
    """Set a new password (and lift any lockout)."""
    from layers.access import accounts

    _connect()
    acct, pw = accounts.reset_password(username, password)
    _admin_event("reset password", acct.username)
    click.echo(f"New password for {acct.username}: {pw}")


@users.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(["admin", "analyst", "detective", "commander", "press"]))
def users_role(username, role) -> None:
    """Give an account another role (takes effect at its next request)."""
    from layers.access import accounts

    _connect()
    acct = accounts.set_role(username, role)
    _admin_event("role", acct.username, role=role)
    click.echo(f"{acct.username} is now {acct.role}.")


@click.group("audit")
def audit_cmd() -> None:
    """The audit trail: show recent events, purge what is past the retention period."""


@audit_cmd.command("show")
@click.option("--user", help="Only this account (part of the name).")
@click.option("--event", help="Only this event, e.g. sign-in, export, view journey.")
@click.option("--limit", default=50, show_default=True)
def audit_show(user, event, limit) -> None:
    """Recent audit events, newest first."""
    from layers.access import audit

    _connect()
    for e in audit.events(user=user, event=event, limit=limit, viewer_check=False):
        ids = ",".join(e["record_ids"][:5]) + ("…" if e["record_count"] > 5 else "")
        click.echo(f"{e['at']} {e['username'] or '-':<18} {e['role'] or '-':<10} {e['event']:<16} {e['outcome']:<8} "
                   f"{(e['record_kind'] or '') + (':' + ids if ids else ''):<30} {e['purpose'] or ''}")


@audit_cmd.command("purge")
def audit_purge() -> None:
    """Delete events older than CGA_AUDIT_RETENTION_DAYS (the database refuses anything younger)."""
    from layers.access import audit

    _connect()
    n = audit.purge_expired()
    click.echo(f"Removed {n:,} audit event(s) older than {audit.retention_days()} days.")


@click.command("settings")
@click.option("--env-example", is_flag=True, help="Print the .env.example file generated from the settings.")
def settings_cmd(env_example: bool) -> None:
    """Show every setting with its current value and what it does."""
    if env_example:
        click.echo(settings.env_example())
        return
    for name, value, help_text in settings.describe():
        click.echo(f"{name:<24} {value!r:<28} {help_text}")
