"""Work on a second connection, in a second thread, while the caller's goes on (etl/derive.py: the alert
matching beside the other steps, the daily counts beside the trafficking index). An error or Ctrl-C on
the caller's side cancels the job's statement; the job's error reaches the caller when it checks or joins."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import psycopg

from layers import db


class Beside:
    """`job` run in a second thread, on its own connection `conn`, while this thread goes on."""

    def __init__(self, job: Callable[[], dict[str, float]], conn: psycopg.Connection) -> None:
        self.conn, self.result, self.error = conn, {}, None
        self.thread = threading.Thread(target=self._run, args=(job,), name="crimegun-derive")
        self.thread.start()

    def _run(self, job: Callable[[], dict[str, float]]) -> None:
        try:
            self.result = job()
        except BaseException as exc:
            self.error = exc

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
            conn: psycopg.Connection) -> dict[str, float]:
    """Run `job` (on `conn`) in a second thread while `here` runs in this one; their timings together. The
    first error of either is raised once both have stopped: an error here (Ctrl-C included) first cancels
    the statement `job` is running."""
    side = Beside(job, conn)
    try:
        timings = here()
    except BaseException:
        side.stop()
        raise
    return {**side.join(), **timings}
