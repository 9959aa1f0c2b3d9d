"""`crimegun` data commands: synthetic data, loads (once or watching a folder), derivations, runs and rejects."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from layers import settings


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


@click.command()
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


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def load_files(paths: list[Path], kind: str | None = None, mapping: str | None = None, encoding: str = "utf-8",
               agency: str | None = None, boundary_kind: str | None = None, name_field: str | None = None,
               derive_after: bool = True, crs: str | None = None, valid_from=None,
               valid_to=None, timezone: str | None = None, jobs: int = 1,
               per_file: dict[Path, dict] | None = None) -> tuple[list, list[str]]:
    """Load `paths` (up to `jobs` side by side, etl/batch.py), print each file's accounting as it
    finishes, then derive once; return the results in the order given and the failures. `per_file`:
    options of some files that differ from the others' (a kind, a boundary kind)."""
    from etl.batch import load_many
    from etl.derive import derive
    from etl.errors import LoadError
    from etl.loader import parse_mapping

    options = {"kind": kind, "mapping": parse_mapping(mapping), "encoding": encoding, "agency": agency,
               "boundary_kind": boundary_kind, "name_field": name_field, "crs": crs, "valid_from": valid_from,
               "valid_to": valid_to, "timezone": timezone}
    side_by_side = jobs > 1 and len(paths) > 1

    def started(path: Path) -> None:
        if side_by_side:
            click.echo(f"  loading {path.name} ...")

    def finished(path: Path, outcome, seconds: float) -> None:
        if isinstance(outcome, LoadError):
            click.secho(f"  {path}: FAILED — {outcome}", fg="red", err=True)
        else:
            _print_result(outcome)

    def still(loading) -> None:
        click.echo("  still loading: " + ", ".join(f"{path.name} ({_duration(seconds)})" for path, seconds in loading))

    per_file = per_file or {}
    outcomes = load_many([(p, {**options, **per_file.get(p, {})}) for p in paths], jobs, on_start=started,
                         on_done=finished, on_wait=still if side_by_side else None, on_note=click.echo)
    results = [o for o in outcomes if not isinstance(o, LoadError)]
    failures = [str(o) for o in outcomes if isinstance(o, LoadError)]
    if results and derive_after:
        click.echo("Deriving districts, time-to-crime, alert matches and NIBIN links ...")
        derived = derive(run_ids=[r.run_id for r in results], echo=click.echo)
        clock = getattr(derived, "clock_check", None)
        if clock is not None:
            click.secho(f"  {clock.message}", fg="yellow" if clock.warning else None)
    return results, failures


@click.command()
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
@click.option("--jobs", type=click.IntRange(1, 16), default=None,
              help="Files loaded side by side (default: one per core, at most 4). Files writing the same "
              "tables still load one after another, in the order given, and boundary files load alone.")
def load(files, kind, mapping, encoding, agency, boundary_kind, name_field, crs, valid_from, valid_to,
         timezone, no_derive, jobs) -> None:
    """Load source files (type and layout detected from the header); every row loaded or rejected."""
    from etl.batch import default_jobs
    from layers import cluster, migrate
    from layers.db import engine

    if cluster.managed():
        cluster.start(quiet=True)
    migrate.upgrade(engine())
    results, failures = load_files(list(files), kind, mapping, encoding, agency, boundary_kind, name_field,
                                   not no_derive, crs=crs, valid_from=valid_from and valid_from.date(),
                                   valid_to=valid_to and valid_to.date(), timezone=timezone,
                                   jobs=jobs or default_jobs())
    total = {k: sum(getattr(r, k) for r in results) for k in ("read", "loaded", "updated", "duplicate", "rejected")}
    click.echo(f"Total: {len(results)} file(s) loaded, {len(failures)} failed — read {total['read']:,} = "
               f"loaded {total['loaded']:,} + updated {total['updated']:,} + duplicate {total['duplicate']:,} "
               f"+ rejected {total['rejected']:,}")
    if total["rejected"]:
        click.echo("See rejected rows with `crimegun rejects`.")
    if failures:
        sys.exit(1)


@click.command()
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


@click.command("derive")
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


@click.command()
@click.option("--limit", default=20, show_default=True)
def runs(limit: int) -> None:
    """List recent loads with their row accounting."""
    from layers.etl_runs import recent_runs

    for r in recent_runs(limit):
        click.echo(f"#{r['id']:<5} {r['status']:<9} {r['kind'] or '-':<10} {Path(r['file_path']).name:<30} "
                   f"read {r['rows_read']:>8,} loaded {r['rows_loaded']:>8,} updated {r['rows_updated']:>6,} "
                   f"dup {r['rows_duplicate']:>7,} rejected {r['rows_rejected']:>6,} {r['message'] or ''}")


@click.command()
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
