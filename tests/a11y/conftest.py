"""The accessibility audit uses the browser tests' fixtures (the synthetic city, sign-in)."""

from tests.browser.conftest import _no_second_factor, synth_app, synth_sql  # noqa: F401
