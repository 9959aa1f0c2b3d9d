"""The database schema, declared once. Alembic migrations (layers/migrations) are generated from it.

Facts live in the `public` schema; personal data (people: purchasers, possessors, associates) lives
in the `pii` schema so access to it can be granted or refused as a whole. Every fact table carries
an `agency` (ORI) so one database can hold several agencies. Geometries are EPSG:4326 points or
multipolygons with GiST indexes (GeoAlchemy2 creates them).
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PII_SCHEMA = "pii"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _point(spatial_index: bool = True) -> Geometry:
    return Geometry("POINT", srid=4326, spatial_index=spatial_index)


class EtlRun(Base):
    """One file loaded (or refused): what, when, and the row accounting."""

    __tablename__ = "etl_run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed
    kind: Mapped[str | None] = mapped_column(String(32))
    layout: Mapped[str | None] = mapped_column(String(64))
    file_path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_bytes: Mapped[int | None] = mapped_column(BigInteger)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)


class EtlDeferredIndex(Base):
    """A secondary index or run foreign key set aside while a batch of big loads fills its table
    (etl/deferred.py), and the statement that builds it again; one left by a batch that stopped is built again
    by the next load or derive."""

    __tablename__ = "etl_deferred_index"
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    table_name: Mapped[str] = mapped_column(Text)
    statement: Mapped[str] = mapped_column(Text)
    deferred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EtlRejectedRow(Base):
    """An input row that was not loaded, with where it came from and why."""

    __tablename__ = "etl_rejected_row"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("etl_run.id", ondelete="CASCADE"), index=True)
    file_path: Mapped[str] = mapped_column(Text)
    line_number: Mapped[int] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    # The reason without the values it quotes (names, serials, dates): what roles without personal data see.
    reason_public: Mapped[str | None] = mapped_column(Text)


class Boundary(Base):
    """City outline, police districts, posts, neighborhoods, CSAs: demo (approximate) or official.

    A boundary is in force from `valid_from` to `valid_to` (both inclusive; null = open), so maps that
    were redrawn (the 2023 police districts) live side by side; one map of a kind is one `valid_from`."""

    __tablename__ = "boundary"
    __table_args__ = (UniqueConstraint("kind", "name", "valid_from", postgresql_nulls_not_distinct=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # city | district | post | neighborhood | csa
    name: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    code: Mapped[str | None] = mapped_column(String(32))
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    population: Mapped[int | None] = mapped_column(Integer)
    source_file: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)


class Dealer(Base):
    """A Federal Firearms Licensee, from the ATF list or first seen on a trace."""

    __tablename__ = "dealer"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ffl_key: Mapped[str] = mapped_column(String(24), unique=True)  # R-DD-CCC-TT-SSSSS
    license_number: Mapped[str | None] = mapped_column(String(32))
    lic_regn: Mapped[str] = mapped_column(String(2))
    lic_dist: Mapped[str] = mapped_column(String(2))
    lic_cnty: Mapped[str] = mapped_column(String(3))
    lic_type: Mapped[str] = mapped_column(String(2))
    lic_xprdte: Mapped[str | None] = mapped_column(String(4))
    lic_seqn: Mapped[str] = mapped_column(String(5))
    license_name: Mapped[str | None] = mapped_column(Text)
    business_name: Mapped[str | None] = mapped_column(Text)
    premise_street: Mapped[str | None] = mapped_column(Text)
    premise_city: Mapped[str | None] = mapped_column(Text)
    premise_state: Mapped[str | None] = mapped_column(String(2), index=True)
    premise_zip: Mapped[str | None] = mapped_column(String(10))
    mail_street: Mapped[str | None] = mapped_column(Text)
    mail_city: Mapped[str | None] = mapped_column(Text)
    mail_state: Mapped[str | None] = mapped_column(String(2))
    mail_zip: Mapped[str | None] = mapped_column(String(10))
    voice_phone: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(16))  # ffl_list | trace
    geocode_precision: Mapped[str] = mapped_column(String(8))  # given | zip | none
    in_city: Mapped[bool | None] = mapped_column(Boolean)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))
    geom = mapped_column(_point())


class Person(Base):
    """Personal data: purchasers, possessors, associates. Identified by name + date of birth."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("agency", "person_key"), {"schema": PII_SCHEMA})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency: Mapped[str] = mapped_column(String(9))
    person_key: Mapped[str] = mapped_column(String(32))
    last_name: Mapped[str] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    dob: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    race: Mapped[str | None] = mapped_column(String(2))
    street: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(2))
    zip: Mapped[str | None] = mapped_column(String(10))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))


class Firearm(Base):
    """One gun: manufacturer + serial, or one per trace when the serial is obliterated or missing."""

    __tablename__ = "firearm"
    __table_args__ = (UniqueConstraint("agency", "firearm_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency: Mapped[str] = mapped_column(String(9))
    firearm_key: Mapped[str] = mapped_column(Text)
    serial_number: Mapped[str | None] = mapped_column(Text, index=True)
    serial_obliterated: Mapped[bool] = mapped_column(Boolean, default=False)
    # The lab restored the obliterated serial: serial_number holds the restored serial (the gun was
    # still obliterated when recovered, which serial_obliterated keeps).
    serial_restored: Mapped[bool | None] = mapped_column(Boolean)
    manufacturer: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    caliber: Mapped[str | None] = mapped_column(Text)
    firearm_type: Mapped[str | None] = mapped_column(String(16))
    country_of_origin: Mapped[str | None] = mapped_column(Text)
    importer: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))


class Trace(Base):
    """An eTrace request and its answer (the first retail sale)."""

    __tablename__ = "trace"
    __table_args__ = (UniqueConstraint("agency", "trace_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency: Mapped[str] = mapped_column(String(9))
    trace_number: Mapped[str] = mapped_column(String(32))
    request_date: Mapped[dt.date] = mapped_column(Date)
    priority: Mapped[str | None] = mapped_column(String(8))
    ncic_crime_code: Mapped[str | None] = mapped_column(String(4))
    requesting_ori: Mapped[str | None] = mapped_column(String(9))
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    trace_status: Mapped[str] = mapped_column(String(16))
    firearm_id: Mapped[int] = mapped_column(ForeignKey("firearm.id"), index=True)
    purchaser_id: Mapped[int | None] = mapped_column(ForeignKey(f"{PII_SCHEMA}.person.id"), index=True)
    possessor_id: Mapped[int | None] = mapped_column(ForeignKey(f"{PII_SCHEMA}.person.id"), index=True)
    associate_id: Mapped[int | None] = mapped_column(ForeignKey(f"{PII_SCHEMA}.person.id"))
    purchase_date: Mapped[dt.date | None] = mapped_column(Date)
    multiple_sale: Mapped[bool | None] = mapped_column(Boolean)
    dealer_ffl_key: Mapped[str | None] = mapped_column(String(24), index=True)
    dealer_license_number: Mapped[str | None] = mapped_column(String(32))
    dealer_name: Mapped[str | None] = mapped_column(Text)
    dealer_street: Mapped[str | None] = mapped_column(Text)
    dealer_city: Mapped[str | None] = mapped_column(Text)
    dealer_state: Mapped[str | None] = mapped_column(String(2))
    dealer_zip: Mapped[str | None] = mapped_column(String(10))
    # The gun was reported stolen (null: the trace does not say), from whom, and when the report was made.
    reported_stolen: Mapped[bool | None] = mapped_column(Boolean)
    stolen_from: Mapped[str | None] = mapped_column(String(8))  # FFL (dealer theft or loss) | PRIVATE
    stolen_report_date: Mapped[dt.date | None] = mapped_column(Date)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))
    # Derived after loads (etl/derive.py).
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealer.id"), index=True)
    ttc_days: Mapped[int | None] = mapped_column(Integer)
    source_state: Mapped[str | None] = mapped_column(String(2))
    source_in_city: Mapped[bool | None] = mapped_column(Boolean)
    source_in_state: Mapped[bool | None] = mapped_column(Boolean)
    possessor_is_purchaser: Mapped[bool | None] = mapped_column(Boolean)


class Recovery(Base):
    """A firearm recovered by the agency: the police side of a trace (one per trace)."""

    __tablename__ = "recovery"
    __table_args__ = (Index("ix_recovery_agency_date", "agency", "recovery_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency: Mapped[str] = mapped_column(String(9))
    trace_id: Mapped[int] = mapped_column(ForeignKey("trace.id", ondelete="CASCADE"), unique=True)
    firearm_id: Mapped[int] = mapped_column(ForeignKey("firearm.id"), index=True)
    possessor_id: Mapped[int | None] = mapped_column(ForeignKey(f"{PII_SCHEMA}.person.id"))
    # Indexed (migration 0019): the derive after an incident load finds the recoveries of its cases.
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    recovery_date: Mapped[dt.date] = mapped_column(Date)
    street: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(2))
    zip: Mapped[str | None] = mapped_column(String(10))
    geocode_precision: Mapped[str] = mapped_column(String(8))
    geom = mapped_column(_point())
    # Derived.
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    # Derived (migration 0011): copies of what the map's marker and recovery filters read from the gun and the
    # trace, so a map view reads this table alone.
    firearm_type: Mapped[str | None] = mapped_column(String(16))
    ttc_band: Mapped[str | None] = mapped_column(String(16))
    source_state: Mapped[str | None] = mapped_column(String(2))
    source_in_state: Mapped[bool | None] = mapped_column(Boolean)


class Incident(Base):
    """A Part 1 crime incident (Open Baltimore and equivalents)."""

    __tablename__ = "incident"
    __table_args__ = (
        UniqueConstraint("agency", "source_key"),
        Index("ix_incident_agency_time", "agency", "crime_datetime"),
        # The rows whose district the derive has still to find (migration 0013).
        Index("ix_incident_district_missing", "id", postgresql_where=text("district IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency: Mapped[str] = mapped_column(String(9))
    source_key: Mapped[str] = mapped_column(String(40))
    cc_number: Mapped[str | None] = mapped_column(String(32), index=True)
    crime_datetime: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    crime_code: Mapped[str | None] = mapped_column(String(8))
    description: Mapped[str | None] = mapped_column(Text)
    inside_outside: Mapped[str | None] = mapped_column(String(1))
    weapon: Mapped[str | None] = mapped_column(String(16))
    is_firearm: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str] = mapped_column(String(24))  # homicide | shooting | robbery | assault | other
    post: Mapped[str | None] = mapped_column(String(8))
    reported_district: Mapped[str | None] = mapped_column(String(16))
    neighborhood: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    premise: Mapped[str | None] = mapped_column(Text)
    victim_gender: Mapped[str | None] = mapped_column(String(8))
    victim_age: Mapped[int | None] = mapped_column(Integer)
    victim_race: Mapped[str | None] = mapped_column(Text)
    victim_ethnicity: Mapped[str | None] = mapped_column(Text)
    total_incidents: Mapped[int] = mapped_column(Integer, default=1)
    source_layout: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))
    # Only the shootings' points are searched by place (the partial index ix_map_incident_gun_geom below);
    # an index of every incident's point cost each load more than any other (migration 0015).
    geom = mapped_column(_point(spatial_index=False))
    # Derived: the district the point falls in (the reported one when there is no point).
    district: Mapped[str | None] = mapped_column(String(16))


class ShotAlert(Base):
    """A ShotSpotter (acoustic gunshot detection) alert."""

    __tablename__ = "shot_alert"
    __table_args__ = (
        UniqueConstraint("agency", "source_key"),
        Index("ix_shot_alert_agency_time", "agency", "alert_time"),
        Index("ix_shot_alert_district_missing", "id", postgresql_where=text("district IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency: Mapped[str] = mapped_column(String(9))
    source_key: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(32))
    alert_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    alert_type: Mapped[str] = mapped_column(String(20))  # SINGLE_GUNSHOT | MULTIPLE_GUNSHOTS | PROBABLE_GUNFIRE
    rounds: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(Text)
    reported_district: Mapped[str | None] = mapped_column(String(16))
    beat: Mapped[str | None] = mapped_column(String(8))
    source_layout: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))
    geom = mapped_column(_point())
    # Derived.
    district: Mapped[str | None] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"), index=True)


class BallisticEvidence(Base):
    """A casing from a scene or a test fire of a recovered gun, as entered in NIBIN."""

    __tablename__ = "ballistic_evidence"
    __table_args__ = (UniqueConstraint("agency", "evidence_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency: Mapped[str] = mapped_column(String(9))
    evidence_id: Mapped[str] = mapped_column(String(40))
    evidence_type: Mapped[str] = mapped_column(String(12))  # CASING | TEST_FIRE
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    trace_number: Mapped[str | None] = mapped_column(String(32), index=True)
    caliber: Mapped[str | None] = mapped_column(Text)
    # Serial of the recovered gun a TEST_FIRE came from, and the item's own date and place when the lead
    # file carries them (a casing: its scene; a test fire: where the gun was recovered).
    test_fire_serial: Mapped[str | None] = mapped_column(String(64))
    evidence_date: Mapped[dt.date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(_point())
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))
    # Derived.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"), index=True)
    firearm_id: Mapped[int | None] = mapped_column(ForeignKey("firearm.id", ondelete="SET NULL"), index=True)
    gun_group: Mapped[int | None] = mapped_column(Integer, index=True)  # evidence fired by one gun


class NibinLead(Base):
    """A NIBIN lead (reviewed correlation) or hit (confirmed) between two evidence items."""

    __tablename__ = "nibin_lead"
    __table_args__ = (UniqueConstraint("agency", "lead_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency: Mapped[str] = mapped_column(String(9))
    lead_id: Mapped[str] = mapped_column(String(32))
    lead_date: Mapped[dt.date] = mapped_column(Date)
    lead_status: Mapped[str] = mapped_column(String(4))  # LEAD | HIT
    caliber: Mapped[str | None] = mapped_column(Text)
    evidence_a_id: Mapped[int] = mapped_column(ForeignKey("ballistic_evidence.id"), index=True)
    evidence_b_id: Mapped[int] = mapped_column(ForeignKey("ballistic_evidence.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_run.id", ondelete="SET NULL"))


class FirearmIncident(Base):
    """Derived: a firearm tied to an incident, by its recovery or by NIBIN."""

    __tablename__ = "firearm_incident"
    firearm_id: Mapped[int] = mapped_column(ForeignKey("firearm.id", ondelete="CASCADE"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True,
                                             index=True)
    via: Mapped[str] = mapped_column(String(12))  # recovery | nibin
    lead_id: Mapped[str | None] = mapped_column(String(32))
    lead_status: Mapped[str | None] = mapped_column(String(4))


# The indexes declared apart from their tables, on the models above (layers/schema_indexes.py).
from layers import schema_indexes  # noqa: E402, F401
