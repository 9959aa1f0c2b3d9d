"""The benchmark report: every number a benchmark prints is also recorded here, and at the end of the
run `make bench` writes them as one Markdown table and one JSON file, with the machine and the date,
into var/bench/ (`report-<UTC time>.md/.json`, plus `latest.md/.json`).

Stages: scale 1 always; larger scales only when asked, `make bench SCALES=1,10,100` (environment
CGA_BENCH_SCALES). `make test` runs the harness once as a smoke test (CGA_BENCH_SMOKE=1): a small
synthetic city, a 2x copy, seconds-long load runs — it checks the benchmark code, not the numbers.

Benchmarks never assert on time: a target missed is a row with met = no and, where known, the
EXPLAIN or profile that shows why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(os.environ.get("CGA_BENCH_OUT") or Path(os.environ.get("CGA_DATA_DIR", "var")) / "bench")


@dataclass
class Row:
    area: str
    measure: str
    value: Any
    unit: str = ""
    scale: str = "1x"
    target: str | None = None
    met: bool | None = None
    note: str = ""
    recorded: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


ROWS: list[Row] = []


def smoke() -> bool:
    """True in the smoke run `make test` does: tiny sizes, the harness exercised end to end."""
    return os.environ.get("CGA_BENCH_SMOKE") == "1"


def scales() -> list[int]:
    """The scales this run measures: 1 always, then those in CGA_BENCH_SCALES (`make bench SCALES=1,10,100`).
    The smoke run measures 1 and a 2x copy."""
    if smoke():
        return [1, 2]
    asked = os.environ.get("CGA_BENCH_SCALES", "1")
    try:
        chosen = {int(s) for s in asked.replace(" ", "").split(",") if s}
    except ValueError as exc:
        raise SystemExit(f"CGA_BENCH_SCALES={asked!r}: give whole numbers separated by commas, e.g. 1,10,100") from exc
    return sorted(chosen | {1})


def record(area: str, measure: str, value: Any, unit: str = "", *, scale: str | int = "1x",
           target: str | None = None, met: bool | None = None, note: str = "") -> Row:
    """Keep one measured number for the report (the benchmark prints it itself as well)."""
    if isinstance(value, float):
        value = round(value, 3)
    row = Row(area, measure, value, unit, scale if isinstance(scale, str) else f"{scale}x", target, met, note)
    ROWS.append(row)
    return row


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _postgres() -> str | None:
    try:
        import psycopg

        from layers import db

        with psycopg.connect(db.dsn(), connect_timeout=3) as conn:
            return conn.execute("SELECT version()").fetchone()[0].split(" on ")[0] + " / PostGIS " + \
                conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()[0]
    except Exception:  # noqa: BLE001 — the report is still written without it
        return None


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict[str, Any]:
    return {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "host": platform.node(),
            "cpu": _cpu(), "cores": os.cpu_count(), "memory_gb": _memory_gb(),
            "os": platform.platform(), "python": platform.python_version(), "postgres": _postgres(),
            "commit": _commit(), "scales": scales(), "smoke": smoke()}


def _cell(value: Any) -> str:
    text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[Row], info: dict[str, Any]) -> str:
    met = {True: "yes", False: "**no**", None: ""}
    lines = [f"# Crime Gun Atlas benchmarks — {info['date']}", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; {info['os']}; "
             f"Python {info['python']}; {info['postgres'] or 'database version unknown'}; commit {info['commit']}.",
             f"Scales measured: {', '.join(f'{s}x' for s in info['scales'])}"
             + (" (smoke run: sizes too small for the numbers to mean anything)" if info["smoke"] else "") + ".",
             "", "| area | measure | scale | value | unit | target | met | note |",
             "|---|---|---|---:|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join(_cell(x) for x in (r.area, r.measure, r.scale, r.value, r.unit,
                                                           r.target or "", met[r.met], r.note)) + " |")
    missed = [r for r in rows if r.met is False]
    lines += ["", f"{len(rows)} measures, {sum(r.met is True for r in rows)} targets met, {len(missed)} missed."]
    return "\n".join(lines) + "\n"


def write(out: Path = OUT) -> tuple[Path, Path] | None:
    """Write the run's rows as Markdown and JSON; None when nothing was recorded."""
    if not ROWS:
        return None
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    stamp = info["date"].replace(":", "").replace("-", "")[:13]
    md = markdown(ROWS, info)
    payload = json.dumps({"machine": info, "rows": [asdict(r) for r in ROWS]}, indent=2, default=str)
    paths = []
    for name in (f"report-{stamp}", "latest"):
        (out / f"{name}.md").write_text(md, encoding="utf-8")
        (out / f"{name}.json").write_text(payload, encoding="utf-8")
        paths.append(out / f"{name}.md")
    return paths[0], out / f"report-{stamp}.json"
