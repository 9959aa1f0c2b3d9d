"""`crimegun`: the one command line of Crime Gun Atlas. Thin: it calls into etl/, layers/ and dashboard/."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import click

from layers import settings

EXIT_USER_ERROR = 2
# gunicorn's worker model (`crimegun serve`): measured with tests/bench/bench_load.py on 2 cores.
WEB_WORKERS = 2
WEB_THREADS = 8
KEEP_ALIVE_S = 75  # longer than a user's pause between clicks


class _Errors(click.Group):
    """Turn the project's expected errors into one line on stderr and a non-zero exit."""

    def invoke(self, ctx):
        from etl.errors import LoadError
        from layers.access.accounts import AccountError
        from layers.cluster import ClusterError
        from layers.settings import SettingError

        try:
            return super().invoke(ctx)
        except (LoadError, ClusterError, SettingError, AccountError) as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.secho("interrupted", fg="red", err=True)
            sys.exit(130)
        except Exception as exc:  # a database that cannot be reached is a setup problem, not a bug
            import psycopg
            import sqlalchemy.exc

            cause = getattr(exc, "orig", exc)
            if isinstance(cause, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
                click.secho(f"error: the database schema is out of date ({str(cause).splitlines()[0]}); "
                            "run `crimegun db upgrade`", fg="red", err=True)
                sys.exit(EXIT_USER_ERROR)
            if isinstance(exc, psycopg.OperationalError | sqlalchemy.exc.OperationalError):
                first = str(exc).strip().splitlines()[0]
                click.secho(f"error: cannot reach the database ({first}); run `crimegun db start` "
                            "or check DATABASE_URL", fg="red", err=True)
                sys.exit(EXIT_USER_ERROR)
            raise


@click.group(cls=_Errors, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Crime Gun Atlas: crime-gun intelligence from eTrace, NIBIN, incidents and ShotSpotter data."""


# --- database -------------------------------------------------------------------------------

@main.group()
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
    else:
        sys.exit(1)


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations."""
    from layers import migrate
    from layers.db import engine

    migrate.upgrade(engine())
    click.echo(f"Schema at revision {migrate.current_revision(engine())}")


# --- data ------------------------------------------------------------------------------------

def _years(text: str) -> tuple[int, int]:
    try:
        a, _, b = text.partition("-")
        first, last = int(a), int(b or a)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a year range like 2021-2025") from None
    if not (1990 <= first <= last <= 2100):
        raise click.BadParameter(f"{text!r} is not a year range like 2021-2025")
    return first, last


def _default_synth_dir(seed: int, years: tuple[int, int], scale: float) -> Path:
    return settings.data_dir() / "synth" / f"seed{seed}-{years[0]}-{years[1]}-x{scale:g}"


@main.command()
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: var/synth/<parameters>).")
@click.option("--seed", type=int, default=lambda: settings.get("CGA_SYNTH_SEED"), show_default="2021")
@click.option("--years", default=lambda: settings.get("CGA_SYNTH_YEARS"), show_default="2021-2025",
              help="Year range, e.g. 2021-2025.")
@click.option("--scale", type=float, default=lambda: settings.get("CGA_SYNTH_SCALE"), show_default="1",
              help="1 = Baltimore-sized; 10 or 100 for benchmarks.")
@click.option("--report", is_flag=True, help="Only print the calibration report of existing output.")
def synth(out: Path | None, seed: int, years: str, scale: float, report: bool) -> None:
    """Write a synthetic Baltimore in the real source formats (ground truth kept apart)."""
    from etl.synth import calibration_report, generate

    span = _years(years)
    if scale <= 0:
        raise click.BadParameter("--scale must be positive")
    out = out or _default_synth_dir(seed, span, scale)
    if not report:
        click.echo(f"Generating synthetic Baltimore {span[0]}-{span[1]} at scale {scale:g} (seed {seed}) in {out}")
        manifest = generate(out, seed=seed, years=span, scale=scale, progress=True)
        for f in manifest["files"]:
            click.echo(f"  {f['kind']:<11} {f['rows']:>9,} rows  {f['path']}")
    elif not (out / "manifest.json").exists():
        raise click.UsageError(f"no synthetic data in {out}; run `crimegun synth` first")
    text, ok = calibration_report(out)
    click.echo(text)
    if not ok:
        click.secho("Some figures are outside their tolerance.", fg="yellow")


def _print_result(r) -> None:
    name = Path(r.path).name
    click.echo(f"  {name:<32} {r.kind + '/' + r.layout:<36} read {r.read:>8,}  loaded {r.loaded:>8,}  "
               f"updated {r.updated:>6,}  duplicate {r.duplicate:>7,}  rejected {r.rejected:>6,}")
    for reason, n in sorted(r.reasons.items(), key=lambda kv: -kv[1])[:5]:
        click.echo(f"      {n:>6,} rejected: {reason}")
    for note in getattr(r, "notes", []):
        click.echo(f"      {note}")


def load_files(paths: list[Path], kind: str | None = None, mapping: str | None = None, encoding: str = "utf-8",
               agency: str | None = None, boundary_kind: str | None = None, name_field: str | None = None,
               derive_after: bool = True, crs: str | None = None, valid_from=None,
               valid_to=None, timezone: str | None = None) -> tuple[list, list[str]]:
    from etl.derive import derive
    from etl.errors import LoadError
    from etl.loader import load_file, parse_mapping

    parsed_map = parse_mapping(mapping)
    results, failures = [], []
    for path in paths:
        try:
            result = load_file(path, kind=kind, mapping=parsed_map, encoding=encoding, agency=agency,
                               boundary_kind=boundary_kind, name_field=name_field, crs=crs,
                               valid_from=valid_from, valid_to=valid_to, timezone=timezone)
        except LoadError as exc:
            failures.append(str(exc))
            click.secho(f"  {path}: FAILED — {exc}", fg="red", err=True)
            continue
        results.append(result)
        _print_result(result)
    if results and derive_after:
        click.echo("Deriving districts, time-to-crime, alert matches and NIBIN links ...")
        derived = derive(run_ids=[r.run_id for r in results], echo=click.echo)
        clock = getattr(derived, "clock_check", None)
        if clock is not None:
            click.secho(f"  {clock.message}", fg="yellow" if clock.warning else None)
    return results, failures


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "kind", type=click.Choice(["traces", "dealers", "incidents", "shots", "nibin", "boundaries"]),
              help="Force the source kind instead of detecting it from the header.")
@click.option("--map", "mapping", help="Rename columns: canonical=file header,... or a JSON file.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding (cp1252 for Windows exports).")
@click.option("--agency", help="Agency ORI for rows that do not name one (default CGA_AGENCY).")
@click.option("--kind", "boundary_kind", type=click.Choice(["city", "district", "post", "neighborhood", "csa"]),
              help="Boundaries: what the polygons are.")
@click.option("--name-field", help="Boundaries: the property holding each polygon's name.")
@click.option("--crs", help="Boundaries: the CRS of a file that declares none (e.g. EPSG:2248).")
@click.option("--valid-from", type=click.DateTime(["%Y-%m-%d"]),
              help="Boundaries: first day the map is in force (e.g. 2023-01-01); other maps of the kind stay.")
@click.option("--valid-to", type=click.DateTime(["%Y-%m-%d"]), help="Boundaries: last day the map is in force.")
@click.option("--timezone", help="Clock of the files' times that carry no UTC offset: an IANA zone "
              "(America/Chicago), UTC, local or an offset like -05:00 (default: CGA_TZ_SHOTS / CGA_TZ_INCIDENTS, "
              "else each layout's documented clock).")
@click.option("--no-derive", is_flag=True, help="Skip the derivations (run `crimegun derive` later).")
def load(files, kind, mapping, encoding, agency, boundary_kind, name_field, crs, valid_from, valid_to,
         timezone, no_derive) -> None:
    """Load source files (type and layout detected from the header); every row loaded or rejected."""
    from layers import cluster, migrate
    from layers.db import engine

    if cluster.managed():
        cluster.start(quiet=True)
    migrate.upgrade(engine())
    results, failures = load_files(list(files), kind, mapping, encoding, agency, boundary_kind, name_field,
                                   not no_derive, crs=crs, valid_from=valid_from and valid_from.date(),
                                   valid_to=valid_to and valid_to.date(), timezone=timezone)
    total = {k: sum(getattr(r, k) for r in results) for k in ("read", "loaded", "updated", "duplicate", "rejected")}
    click.echo(f"Total: {len(results)} file(s) loaded, {len(failures)} failed — read {total['read']:,} = "
               f"loaded {total['loaded']:,} + updated {total['updated']:,} + duplicate {total['duplicate']:,} "
               f"+ rejected {total['rejected']:,}")
    if total["rejected"]:
        click.echo("See rejected rows with `crimegun rejects`.")
    if failures:
        sys.exit(1)


@main.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--interval", default=2.0, show_default=True, help="Seconds between scans of the folder.")
@click.option("--settle", default=2.0, show_default=True,
              help="Seconds a file must stay unchanged before it is taken (half-written files wait).")
def watch(directory: Path, interval: float, settle: float) -> None:
    """Load new files as they land in DIRECTORY (ShotSpotter, incidents, NIBIN, traces, dealers)."""
    from etl.watch import watch as run
    from layers import cluster, migrate
    from layers.db import engine

    if cluster.managed():
        cluster.start(quiet=True)
    migrate.upgrade(engine())
    try:
        state = run(directory, interval=interval, settle=settle, echo=click.echo)
    except KeyboardInterrupt:
        click.echo("Stopped.")
        return
    click.echo(f"Stopped after loading {state.loaded} file(s).")


@main.command("derive")
@click.option("--full", is_flag=True, help="Recompute everything, not only the latest loads.")
def derive_cmd(full: bool) -> None:
    """Recompute districts, time-to-crime, alert matches and NIBIN links."""
    from etl.derive import derive
    from layers import cluster, migrate
    from layers.db import engine

    if cluster.managed():
        cluster.start(quiet=True)
    migrate.upgrade(engine())
    derive(full=full, run_ids=[], echo=click.echo)


@main.command()
@click.option("--limit", default=20, show_default=True)
def runs(limit: int) -> None:
    """List recent loads with their row accounting."""
    from layers.etl_runs import recent_runs

    for r in recent_runs(limit):
        click.echo(f"#{r['id']:<5} {r['status']:<9} {r['kind'] or '-':<10} {Path(r['file_path']).name:<30} "
                   f"read {r['rows_read']:>8,} loaded {r['rows_loaded']:>8,} updated {r['rows_updated']:>6,} "
                   f"dup {r['rows_duplicate']:>7,} rejected {r['rows_rejected']:>6,} {r['message'] or ''}")


@main.command()
@click.option("--run", "run_id", type=int, help="Only this load (see `crimegun runs`).")
@click.option("--limit", default=50, show_default=True)
def rejects(run_id: int | None, limit: int) -> None:
    """List rejected input rows: file, line, reason and the raw text."""
    from layers.etl_runs import rejected_rows

    rows = rejected_rows(run_id, limit)
    if not rows:
        click.echo("No rejected rows.")
    for r in rows:
        click.echo(f"{Path(r['file_path']).name}:{r['line_number']}: {r['reason']}\n    {r['raw'][:200]}")


# --- product ---------------------------------------------------------------------------------

@main.command()
@click.option("--host", default=lambda: settings.get("CGA_HOST"), show_default="127.0.0.1")
@click.option("--port", type=int, default=lambda: settings.get("CGA_PORT"), show_default="8050")
@click.option("--debug", is_flag=True, help="Dash's development server with hot reload and error pages.")
@click.option("--workers", type=click.IntRange(1, 64), default=WEB_WORKERS, show_default=True,
              help="gunicorn worker processes.")
@click.option("--threads", type=click.IntRange(1, 64), default=WEB_THREADS, show_default=True,
              help="Request threads per worker (each worker's database pools hold as many connections).")
def serve(host: str, port: int, debug: bool, workers: int, threads: int) -> None:
    """Serve the dashboard."""
    from layers import cluster

    reloaded = bool(os.environ.get("WERKZEUG_RUN_MAIN"))  # --debug: the reloader's child, which owns the port
    if cluster.managed() and not reloaded:
        cluster.start(quiet=True)
    os.environ["CGA_WEB_THREADS"] = str(threads)  # read by layers.db to size the pools of every worker
    if not reloaded:
        _check_port_free(host, port)
        click.echo(f"Crime Gun Atlas on http://{host}:{port}/  (Ctrl-C stops it)")
    if debug:
        from dashboard.app import create_app

        create_app().run(host=host, port=port, debug=True)
        return
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if not gunicorn:
        raise click.ClickException("gunicorn is not installed; run `make install` or use --debug")
    # Threads in each worker: a slow query holds one thread, not the whole worker, and every database wait
    # is bounded (layers/db.py), so the worker timeout only catches a stuck process. The access log
    # records paths without query strings, so no log line holds what a user typed. Idle keep-alive
    # connections wait in the worker's poller (not a thread) for KEEP_ALIVE_S: with gunicorn's 2 s a
    # browser that reuses its connection after a pause of about 2 s raced the server closing it and got
    # a connection error (bench_load: ~1 request in 250 at 50 users).
    os.execv(gunicorn, [gunicorn, "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
                        "--bind", f"{host}:{port}", "--timeout", "60", "--graceful-timeout", "10",
                        "--keep-alive", str(KEEP_ALIVE_S),
                        "--access-logfile", "-",
                        "--access-logformat", '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms',
                        "dashboard.wsgi:server"])


def _check_port_free(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror}); is the dashboard "
                                       "already running? Use --port or CGA_PORT for another port") from None


@main.command()
@click.option("--rebuild", is_flag=True, help="Regenerate the synthetic data and reload it from scratch.")
@click.option("--no-serve", is_flag=True, help="Prepare the data but do not start the dashboard.")
def demo(rebuild: bool, no_serve: bool) -> None:
    """Start the embedded database, generate and load synthetic Baltimore (once), and serve."""
    from etl.synth import generate
    from layers import cluster, migrate
    from layers.db import engine, reset_engines
    from layers.etl_runs import loaded_hashes

    if cluster.managed():
        cluster.start(echo=click.echo)
    if rebuild:
        click.echo("Rebuilding: dropping the database and regenerating the synthetic data")
        name = engine().url.database
        reset_engines()
        cluster.drop_database(name)
        cluster.ensure_database(name)
    migrate.upgrade(engine())
    seed, span = settings.get("CGA_SYNTH_SEED"), _years(settings.get("CGA_SYNTH_YEARS"))
    scale = settings.get("CGA_SYNTH_SCALE")
    out = _default_synth_dir(seed, span, scale)
    if rebuild and out.exists():
        shutil.rmtree(out)
    if (out / "manifest.json").exists():
        manifest = json.loads((out / "manifest.json").read_text())
    else:
        click.echo(f"Generating synthetic Baltimore {span[0]}-{span[1]} (seed {seed}, scale {scale:g}) ...")
        manifest = generate(out, seed=seed, years=span, scale=scale, progress=True)
    from etl.loader import file_sha256

    files = [out / f["path"] for f in manifest["files"]]
    done = loaded_hashes()
    todo = [f for f in files if file_sha256(f) not in done]
    if not todo:
        click.echo(f"Reusing the synthetic Baltimore already loaded ({len(files)} files from {out}); "
                   "`make demo-rebuild` regenerates it.")
    else:
        click.echo(f"Loading {len(todo)} file(s) through the ETL ...")
        entries = {str(out / f["path"]): f for f in manifest["files"]}
        for f in todo:
            entry = entries[str(f)]
            _, failed = load_files([f], kind=entry["kind"], boundary_kind=entry.get("boundary_kind"),
                                   derive_after=False)
            if failed:
                raise click.ClickException(f"the demo data did not load: {failed[0]}")
        from etl.derive import derive

        click.echo("Deriving districts, time-to-crime, alert matches and NIBIN links ...")
        derive(full=True, echo=click.echo)
    _demo_accounts()
    if no_serve:
        return
    if not os.environ.get("CGA_MFA_REQUIRED"):
        os.environ["CGA_MFA_REQUIRED"] = "none"
        click.echo("Demo: no second factor is asked (CGA_MFA_REQUIRED=none); by default detective, analyst and "
                   "admin accounts must set one up at their first sign-in.")
    ctx = click.get_current_context()
    ctx.invoke(serve, host=settings.get("CGA_HOST"), port=settings.get("CGA_PORT"), debug=False, workers=2)


def _demo_accounts() -> None:
    """One account per role for the demo; passwords generated once and kept in <data dir>/demo-accounts.txt."""
    from layers.access import ROLES, accounts

    path = settings.data_dir() / "demo-accounts.txt"
    known = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, password = line.partition(" ")
            known[name] = password
    for role in ROLES:
        name = f"demo-{role}"
        if accounts.get(name, _owner_engine()) is None:
            _, known[name] = accounts.create(name, role, known.get(name) or None, display_name=f"Demo {role}")
    path.write_text("".join(f"{n} {p}\n" for n, p in sorted(known.items())))
    path.chmod(0o600)
    click.echo(f"Sign in at http://{settings.get('CGA_HOST')}:{settings.get('CGA_PORT')}/ with one of these demo "
               f"accounts (also in {path}):")
    for role in ROLES:
        click.echo(f"  {role:<10} demo-{role:<10} password {known.get(f'demo-{role}', '(set before; see the file)')}")


def _owner_engine():
    from layers.db import engine

    return engine()


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


@main.group()
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


@main.group("audit")
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


@main.command("settings")
@click.option("--env-example", is_flag=True, help="Print the .env.example file generated from the settings.")
def settings_cmd(env_example: bool) -> None:
    """Show every setting with its current value and what it does."""
    if env_example:
        click.echo(settings.env_example())
        return
    for name, value, help_text in settings.describe():
        click.echo(f"{name:<24} {value!r:<28} {help_text}")


if __name__ == "__main__":
    main()
