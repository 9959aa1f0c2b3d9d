"""Which kind of source a file is, and which layout of it, from its header alone."""

from __future__ import annotations

from etl.errors import LoadError
from etl.sources import SOURCES, Layout, Source


def detect(header: list[str], kind: str | None = None, file_name: str = "") -> tuple[Source, Layout]:
    """The best-matching (source, layout): every required column present, most columns recognized."""
    cols = set(header)
    candidates = [SOURCES[kind]] if kind else list(SOURCES.values())
    best: tuple[int, int, Source, Layout] | None = None
    closest: tuple[int, Source, Layout] | None = None
    for source in candidates:
        for layout in source.layouts:
            missing = layout.required - cols
            if not missing:
                known = len(cols & (layout.required | layout.optional))
                score = (known, len(layout.required))
                if best is None or score > best[:2]:
                    best = (*score, source, layout)
            elif closest is None or len(missing) < closest[0]:
                closest = (len(missing), source, layout)
    if best:
        return best[2], best[3]
    shown = ", ".join(header[:8]) + (" ..." if len(header) > 8 else "")
    hint = ""
    if closest:
        _, source, layout = closest
        missing = sorted(layout.required - cols)
        hint = (f"; closest is {source.kind} ({layout.description or layout.name}), missing "
                f"{', '.join(missing)} — rename columns with --map canonical=header")
    what = f"a {kind} layout" if kind else "any known layout"
    raise LoadError(f"{file_name}: header does not match {what} (columns: {shown}){hint}")


def apply_mapping(header: list[str], mapping: dict[str, str]) -> list[str]:
    """Rename file headers to canonical names. `mapping` is {canonical: file header}."""
    from etl.reader import normalize_header

    reverse = {normalize_header(v): normalize_header(k) for k, v in mapping.items()}
    unknown = [v for v in reverse if v not in header]
    if unknown:
        raise LoadError(f"--map names columns the file does not have: {', '.join(unknown)} "
                        f"(file columns: {', '.join(header[:12])})")
    return [reverse.get(h, h) for h in header]
