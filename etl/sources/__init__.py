"""The source kinds the ETL reads, by name."""

from etl.sources.base import Layout, LoadContext, Source
from etl.sources.dealers import Dealers
from etl.sources.incidents import Incidents
from etl.sources.nibin import Nibin
from etl.sources.shots import Shots
from etl.sources.traces import Traces

SOURCES: dict[str, Source] = {s.kind: s for s in (Traces(), Dealers(), Incidents(), Shots(), Nibin())}
KINDS = (*SOURCES, "boundaries")

__all__ = ["KINDS", "SOURCES", "Layout", "LoadContext", "Source"]
