"""The schema's indexes declared apart from their tables (layers/schema.py): search, journeys and the link
network, partial search by trigrams, the map's read path and the run lookups. Imported by layers/schema.py,
so the metadata Alembic compares against always holds them."""

from __future__ import annotations

from sqlalchemy import Index, func

from layers.schema import (
    BallisticEvidence,
    Dealer,
    Firearm,
    Incident,
    NibinLead,
    Person,
    Recovery,
    ShotAlert,
    Trace,
)

# Indexes for search, journeys and the link network (migration 0003).
Index("ix_recovery_possessor_id", Recovery.possessor_id)
Index("ix_recovery_incident_id", Recovery.incident_id)
Index("ix_recovery_street", Recovery.street)
Index("ix_trace_associate_id", Trace.associate_id)
Index("ix_incident_location", Incident.location)
Index("ix_nibin_lead_lead_date", NibinLead.lead_date)


# Trigram indexes for partial search (layers/search.py and migration 0003 use the same expressions).
def _trgm(name: str, expr) -> Index:
    return Index(name, expr.label("trgm"), postgresql_using="gin", postgresql_ops={"trgm": "gin_trgm_ops"})


_trgm("ix_firearm_serial_trgm", func.upper(func.regexp_replace(Firearm.serial_number, "[^A-Za-z0-9]", "", "g")))
_trgm("ix_trace_number_trgm", func.upper(Trace.trace_number))
_trgm("ix_incident_cc_number_trgm", func.upper(Incident.cc_number))
_trgm("ix_dealer_ffl_trgm", func.replace(Dealer.ffl_key, "-", ""))
_trgm("ix_dealer_business_name_trgm", func.upper(Dealer.business_name))
_trgm("ix_dealer_license_name_trgm", func.upper(Dealer.license_name))
_trgm("ix_person_last_name_trgm", func.upper(Person.last_name))
_trgm("ix_person_first_name_trgm", func.upper(Person.first_name))


# Map read path (migration 0002): time indexes and partial indexes for the shootings layer.
_GUN_INCIDENT = Incident.is_firearm & Incident.category.in_(("shooting", "homicide"))
Index("ix_map_shot_alert_time", ShotAlert.alert_time)
Index("ix_map_recovery_date", Recovery.recovery_date)
Index("ix_map_incident_gun_time", Incident.crime_datetime, postgresql_where=_GUN_INCIDENT)
Index("ix_map_incident_gun_geom", Incident.geom, postgresql_using="gist", postgresql_where=_GUN_INCIDENT)

# Map views (migration 0010): each point layer by the 0.01-degree square of its point, newest first, so a
# zoomed-in view merges a few squares' time-ordered lists (layers/viewport.py).
_square = func.point_square
Index("ix_view_shot_alert_square", _square(ShotAlert.geom), ShotAlert.alert_time.desc(), ShotAlert.id.desc())
Index("ix_view_incident_gun_square", _square(Incident.geom), Incident.crime_datetime.desc(), Incident.id.desc(),
      postgresql_where=_GUN_INCIDENT)
Index("ix_view_recovery_square", _square(Recovery.geom), Recovery.recovery_date.desc(), Recovery.id.desc())

# The rows each load wrote, found by run (migration 0016): the derive after a load looks up its runs' rows
# in the big tables (their days, times, case numbers). A block-range index is a few kilobytes and costs a
# load next to nothing; without it each lookup read the whole table.
_RUN_RANGES = {"pages_per_range": 32, "autosummarize": "on"}
for _table in (Incident, ShotAlert, Trace, Firearm, BallisticEvidence):  # NIBIN evidence: migration 0019
    Index(f"ix_{_table.__tablename__}_run_ranges", _table.run_id, postgresql_using="brin",
          postgresql_with=_RUN_RANGES)
