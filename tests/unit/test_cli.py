"""The command line: help everywhere, one-line errors and non-zero exits for user mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crimegun_cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args", [[], ["db"], ["db", "start"], ["db", "stop"], ["db", "status"], ["db", "upgrade"],
                                  ["synth"], ["load"], ["demo"], ["serve"], ["runs"], ["rejects"], ["derive"],
                                  ["settings"]])
def test_every_command_has_help(args):
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_wrong_path_is_one_line_and_non_zero(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "crimegun_cli", "load", str(tmp_path / "nope.csv")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "does not exist" in proc.stderr


def test_bad_years_option_is_a_usage_error():
    result = CliRunner().invoke(main, ["synth", "--years", "twenty"])
    assert result.exit_code == 2
    assert "year range" in result.output


def test_env_example_lists_every_setting():
    from layers import settings

    text = (ROOT / ".env.example").read_text()
    assert text.strip() == settings.env_example().strip(), "regenerate: crimegun settings --env-example > .env.example"


def test_invalid_setting_is_reported(monkeypatch):
    from layers import settings

    monkeypatch.setenv("CGA_PORT", "eighty")
    with pytest.raises(settings.SettingError, match="CGA_PORT"):
        settings.get("CGA_PORT")
