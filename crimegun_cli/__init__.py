"""`crimegun`: the one command line of Crime Gun Atlas. Thin: it calls into etl/, layers/ and dashboard/.

The group and its error handling are here; the commands are in data.py (synth, load, watch, derive, runs,
rejects), serve.py (serve, demo) and admin.py (db, users, audit, settings)."""

from __future__ import annotations

import sys

import click

from crimegun_cli import admin, data, serve
from crimegun_cli.serve import KEEP_ALIVE_S, WEB_THREADS, WEB_WORKERS

__all__ = ["EXIT_USER_ERROR", "KEEP_ALIVE_S", "WEB_THREADS", "WEB_WORKERS", "main"]

EXIT_USER_ERROR = 2


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


for _command in (admin.db, data.synth, data.load, data.watch, data.derive_cmd, data.runs, data.rejects, serve.serve,
                 serve.demo, admin.users, admin.audit_cmd, admin.settings_cmd):
    main.add_command(_command)
