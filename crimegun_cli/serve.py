"""`crimegun serve` and `crimegun demo`: the dashboard, alone or on synthetic Baltimore."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import click

from crimegun_cli.data import _default_synth_dir, _years, load_files
from layers import settings

# gunicorn's worker model (`crimegun serve`): measured with tests/bench/bench_load.py on 2 cores.
WEB_WORKERS = 2
WEB_THREADS = 8
KEEP_ALIVE_S = 75  # longer than a user's pause between clicks


@click.command()
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


@click.command()
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
    from etl.runs import file_sha256

    files = [out / f["path"] for f in manifest["files"]]
    done = loaded_hashes()
    todo = [f for f in files if file_sha256(f) not in done]
    if not todo:
        click.echo(f"Reusing the synthetic Baltimore already loaded ({len(files)} files from {out}); "
                   "`make demo-rebuild` regenerates it.")
    else:
        from etl.batch import default_jobs
        from etl.derive import derive

        jobs = default_jobs()
        click.echo(f"Loading {len(todo)} file(s) through the ETL"
                   + (f", up to {jobs} side by side ..." if jobs > 1 and len(todo) > 1 else " ..."))
        entries = {out / f["path"]: f for f in manifest["files"]}
        _, failed = load_files(todo, derive_after=False, jobs=jobs, per_file={
            f: {"kind": entries[f]["kind"], "boundary_kind": entries[f].get("boundary_kind")} for f in todo})
        if failed:
            raise click.ClickException(f"the demo data did not load: {failed[0]}")

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
