"""Synthetic Baltimore crime-gun data: traces, dealers, incidents, ShotSpotter alerts and NIBIN
leads written in the source formats of docs/formats.md, with planted trafficking schemes whose
ground truth is kept apart (ground_truth.json).

Import is light: numpy/pandas/shapely load when `generate` or `calibration_report` is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def generate(out_dir: Path, seed: int = 2021, years: tuple[int, int] = (2021, 2025),
             scale: float = 1.0, progress: bool = True, schemes: dict[str, int] | None = None) -> dict[str, Any]:
    """Write the synthetic source files into out_dir and return the manifest. `schemes` overrides how
    many of each planted scheme and look-alike the city holds (etl/synth/schemes.py PLAN_KEYS)."""
    from etl.synth.generator import generate as _generate

    return _generate(Path(out_dir), seed=seed, years=years, scale=scale, progress=progress, schemes=schemes)


def calibration_report(out_dir: Path) -> tuple[str, bool]:
    """Re-read the written files and compare them with the calibration targets."""
    from etl.synth.report import calibration_report as _report

    return _report(Path(out_dir))


__all__ = ["generate", "calibration_report"]
