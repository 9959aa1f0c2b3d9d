"""The accessibility audit uses the browser tests' fixtures (a loaded database, sign-in)."""

from tests.browser.conftest import _no_second_factor, app, loaded_db  # noqa: F401
