"""The database watchdog (layers/db.py) keeps watching after its thread is stopped from outside."""

from __future__ import annotations

import ctypes
import socket
import time

from layers import db


class _Conn:
    """What the watchdog needs of a connection: its socket's descriptor and whether it is closed."""

    closed = False

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()


def test_a_stopped_watchdog_thread_is_replaced_and_still_cuts_late_connections():
    dog = db._Watchdog()
    a, b = socket.socketpair()
    conn = _Conn(a)
    try:
        dog.disarm(dog.arm(conn, 60))
        first = dog._thread
        # What dash.testing's server shutdown does to every thread started while it ran.
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(first.ident), ctypes.py_object(SystemExit))
        first.join(2)
        assert not first.is_alive()
        token = dog.arm(conn, 0.05)
        assert dog._thread is not first and dog._thread.is_alive()
        deadline = time.monotonic() + 3
        while token in dog._armed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dog.disarm(token) is False, "the late connection was cut"
        assert b.recv(1) == b"", "its socket was shut"
    finally:
        a.close()
        b.close()
