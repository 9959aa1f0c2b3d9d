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


class _Errors(click.Group):
    """Turn the project's expected errors into one line on stderr and a non-zero exit."""

    def invoke(self, ctx):
        from etl.errors import LoadError
        from layers.cluster import ClusterError
        from layers.settings import SettingError

        try:
            return super().invoke(ctx)
        except (LoadError, ClusterError, SettingError) as exc:
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
               derive_after: bool = True, crs: str | None = None) -> tuple[list, list[str]]:
    from etl.derive import derive
    from etl.errors import LoadError
    from etl.loader import load_file, parse_mapping

    parsed_map = parse_mapping(mapping)
    results, failures = [], []
    for path in paths:
        try:
            result = load_file(path, kind=kind, mapping=parsed_map, encoding=encoding, agency=agency,
                               boundary_kind=boundary_kind, name_field=name_field, crs=crs)
        except LoadError as exc:
            failures.append(str(exc))
            click.secho(f"  {path}: FAILED — {exc}", fg="red", err=True)
            continue
        results.append(result)
        _print_result(result)
    if results and derive_after:
        click.echo("Deriving districts, time-to-crime, alert matches and NIBIN links ...")
        derive(run_ids=[r.run_id for r in results], echo=click.echo)
    return results, failures


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "kind", type=click.Choice(["traces", "dealers", "incidents", "shots", "nibin", "boundaries"]),
              help="Force the source kind instead of detecting it from the header.")
@click.option("--map", "mapping", help="Rename columns: canonical=file header,... or a JSON file.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding (cp1252 for Windows exports).")
@click.option("--agency", help="Agency ORI for rows that do not name one (default CGA_AGENCY).")
@click.option("--kind", "boundary_kind", type=click.Choice(["city", "district", "post", "neighborhood"]),
              help="Boundaries: what the polygons are.")
@click.option("--name-field", help="Boundaries: the property holding each polygon's name.")
@click.option("--crs", help="Boundaries: the CRS of a file that declares none (e.g. EPSG:2248).")
@click.option("--no-derive", is_flag=True, help="Skip the derivations (run `crimegun derive` later).")
def load(files, kind, mapping, encoding, agency, boundary_kind, name_field, crs, no_derive) -> None:
    """Load source files (type and layout detected from the header); every row loaded or rejected."""
    from layers import cluster, migrate
    from layers.db import engine

    if cluster.managed():
        cluster.start(quiet=True)
    migrate.upgrade(engine())
    results, failures = load_files(list(files), kind, mapping, encoding, agency, boundary_kind, name_field,
                                   not no_derive, crs=crs)
    total = {k: sum(getattr(r, k) for r in results) for k in ("read", "loaded", "updated", "duplicate", "rejected")}
    click.echo(f"Total: {len(results)} file(s) loaded, {len(failures)} failed — read {total['read']:,} = "
               f"loaded {total['loaded']:,} + updated {total['updated']:,} + duplicate {total['duplicate']:,} "
               f"+ rejected {total['rejected']:,}")
    if total["rejected"]:
        click.echo("See rejected rows with `crimegun rejects`.")
    if failures:
        sys.exit(1)


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
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
def serve(host: str, port: int, debug: bool, workers: int) -> None:
    """Serve the dashboard."""
    from layers import cluster

    if cluster.managed():
        cluster.start(quiet=True)
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror}); is the dashboard "
                                       "already running? Use --port or CGA_PORT for another port") from None
    click.echo(f"Crime Gun Atlas on http://{host}:{port}/  (Ctrl-C stops it)")
    if debug:
        from dashboard.app import create_app

        create_app().run(host=host, port=port, debug=True)
        return
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if not gunicorn:
        raise click.ClickException("gunicorn is not installed; run `make install` or use --debug")
    os.execv(gunicorn, [gunicorn, "--workers", str(workers), "--bind", f"{host}:{port}", "--timeout", "120",
                        "--access-logfile", "-", "dashboard.wsgi:server"])


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
    if no_serve:
        return
    # Synthetic people only: the demo shows what a detective sees unless told otherwise.
    if not os.environ.get("CGA_ROLE"):
        os.environ["CGA_ROLE"] = "detective"
    click.echo(f"Role: {os.environ['CGA_ROLE']} (no sign-in yet; set CGA_ROLE=press to see the public view)")
    ctx = click.get_current_context()
    ctx.invoke(serve, host=settings.get("CGA_HOST"), port=settings.get("CGA_PORT"), debug=False, workers=2)


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
