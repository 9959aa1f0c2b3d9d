"""Work on a second connection, in a second thread, while the caller's goes on (etl/derive.py: the alert
matching beside the other steps, the daily counts beside the trafficking index). An error or Ctrl-C on
the caller's side cancels the job's statement; the job's error reaches the caller when it checks or joins
(with `beside`, at once when told the caller's connection)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import psycopg

from layers import db


class Beside:
    """`job` run in a second thread, on its own connection `conn`, while this thread goes on. `on_error`, if
    given, is called in that thread when the job fails."""

    def __init__(self, job: Callable[[], dict[str, float]], conn: psycopg.Connection,
                 on_error: Callable[[], None] | None = None) -> None:
        self.conn, self.result, self.error, self.on_error = conn, {}, None, on_error
        self.thread = threading.Thread(target=self._run, args=(job,), name="crimegun-derive")
        self.thread.start()

    def _run(self, job: Callable[[], dict[str, float]]) -> None:
        try:
            self.result = job()
        except BaseException as exc:
            self.error = exc
            if self.on_error is not None:
                self.on_error()

    def check(self) -> None:
        """Raise the job's error, if it has failed."""
        if self.error is not None:
            raise self.error

    def join(self) -> dict[str, float]:
        """Wait for the job; its timings, or its error."""
        self.thread.join()
        self.check()
        return self.result

    def stop(self) -> None:
        """Cancel the job's statement until it ends: a cancel between two of its statements cancels nothing."""
        while self.thread.is_alive():
            self.conn.cancel_safe()
            self.thread.join(0.5)


class Side:
    """A job started when the caller is ready (`start`, once), beside it on a connection of its own. Leaving
    the `with` stops it on an error (Ctrl-C included) and closes its connection."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.conn, self.beside = dsn, None, None

    def __enter__(self) -> Side:
        return self

    def start(self, job: Callable[[psycopg.Connection], dict[str, float]]) -> None:
        if self.beside is None:
            self.conn = db.batch_session(psycopg.connect(self.dsn))
            self.beside = Beside(functools.partial(job, self.conn), self.conn)

    def check(self) -> None:
        if self.beside is not None:
            self.beside.check()

    def join(self) -> dict[str, float]:
        return self.beside.join() if self.beside is not None else {}

    def __exit__(self, *exc: object) -> None:
        try:
            if self.beside is not None:
                self.beside.stop()  # nothing to stop once it has ended
        finally:
            if self.conn is not None:
                self.conn.close()


def beside(job: Callable[[], dict[str, float]], here: Callable[[], dict[str, float]],
            conn: psycopg.Connection, here_conn: psycopg.Connection | None = None) -> dict[str, float]:
    """Run `job` (on `conn`) in a second thread while `here` runs in this one; their timings together. The
    first error of either is raised once both have stopped: an error here (Ctrl-C included) first cancels
    the statement `job` is running; given `here_conn` (the connection `here` works on), an error in `job`
    cancels `here`'s statements until it stops, and is the error raised."""
    ended = threading.Event()

    def stop_here(on: psycopg.Connection) -> None:
        while not ended.is_set():
            on.cancel_safe()  # a cancel between two of its statements cancels nothing: again
            ended.wait(0.5)

    side = Beside(job, conn, functools.partial(stop_here, here_conn) if here_conn is not None else None)
    try:
        timings = here()
    except BaseException as exc:
        ended.set()  # before stopping the job: its thread may be cancelling `here` until this is set
        side.stop()
        if isinstance(exc, psycopg.errors.QueryCanceled) and side.error is not None:
            raise side.error from None  # cancelled because the job failed: its error is the one to report
        raise
    finally:
        ended.set()
    return {**side.join(), **timings}
