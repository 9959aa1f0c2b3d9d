"""Errors of the write path. `LoadError` is a user's mistake or a file's problem: the CLI prints
its message on one line and exits non-zero, never a traceback."""


class LoadError(Exception):
    """A whole file cannot be loaded; the message says what to do."""


class RowError(ValueError):
    """One row cannot be loaded; the message is the reason recorded with the rejected row."""
