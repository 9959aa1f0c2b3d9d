"""Errors of the write path. `LoadError` is a user's mistake or a file's problem: the CLI prints
its message on one line and exits non-zero, never a traceback."""

import re


class LoadError(Exception):
    """A whole file cannot be loaded; the message says what to do."""


class RowError(ValueError):
    """One row cannot be loaded; the message is the reason recorded with the rejected row."""


_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|\([^)]*\)|[^\s,;:]*[0-9][^\s,;:]*")


def public_reason(reason: str) -> str:
    """The reason without the values it quotes: what roles that may not see raw rows are shown.

    Quoted and parenthesised text and any token holding a digit (dates, serials, numbers, ids) become
    '…'; what remains names the column and the rule ("possessor_dob … is not a date")."""
    return _VALUES.sub("…", reason)
