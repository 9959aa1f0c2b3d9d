"""Every calibration target and modelling assumption of the synthetic generator, in one place.

Figures with a public source cite it (see shared docs/domain.md §2.6 and §3); figures marked
ASSUMPTION have no public Baltimore source and were chosen to be plausible. The calibration
report (report.py) checks the written files against the targets and tolerances below.
"""

from __future__ import annotations

# --- Volumes -------------------------------------------------------------------------------

# Guns seized/traced per year (domain §2.6: 2,203 in 2019, 2,543 in 2020). ASSUMPTION: ~2,500 in
# the other years.
RECOVERIES_PER_YEAR = {2019: 2203, 2020: 2543}
RECOVERIES_DEFAULT = 2500

# Homicides (domain §2.6). ASSUMPTION: ~330 for years without a figure (the brief's level, not the
# real post-2023 decline).
HOMICIDES_PER_YEAR = {2017: 342, 2018: 309, 2019: 348, 2020: 335, 2021: 337, 2022: 330, 2023: 263}
HOMICIDES_DEFAULT = 330
# ASSUMPTION: ~88% of Baltimore homicides are by firearm (commonly reported 85-90%).
HOMICIDE_FIREARM_SHARE = 0.88

# Non-fatal shootings (domain §2.6). ASSUMPTION: ~700 in other years.
SHOOTINGS_PER_YEAR = {2019: 770, 2020: 725, 2021: 724}
SHOOTINGS_DEFAULT = 700

# Ghost guns recovered (domain §2.6: 29, 126, 294+). ASSUMPTION for later years: decline after the
# 2022 Maryland ban and the ATF frame/receiver rule.
GHOST_GUNS_PER_YEAR = {2017: 3, 2018: 10, 2019: 29, 2020: 126, 2021: 294, 2022: 330, 2023: 240,
                       2024: 180, 2025: 150}
GHOST_GUNS_DEFAULT = 150

# Other Part 1 crime per year at scale 1 (ASSUMPTION: orders of magnitude of Baltimore 2019-2022;
# total ~44k rows/year). code -> (count, description, weapon)
OTHER_CRIME = {
    "1K": (0, "HOMICIDE", "KNIFE"),  # filled from the homicide total
    "1O": (0, "HOMICIDE", "OTHER"),
    "2A": (220, "RAPE", "NA"),
    "3AF": (1300, "ROBBERY - STREET", "FIREARM"),
    "3AK": (250, "ROBBERY - STREET", "KNIFE"),
    "3B": (900, "ROBBERY - STREET", "NA"),
    "3CF": (450, "ROBBERY - COMMERCIAL", "FIREARM"),
    "3JF": (180, "ROBBERY - RESIDENCE", "FIREARM"),
    "4A": (1000, "AGG. ASSAULT", "FIREARM"),
    "4B": (1100, "AGG. ASSAULT", "KNIFE"),
    "4C": (1300, "AGG. ASSAULT", "OTHER"),
    "4D": (1000, "AGG. ASSAULT", "HANDS"),
    "4E": (8000, "COMMON ASSAULT", "HANDS"),
    "5A": (3000, "BURGLARY", "NA"),
    "5D": (900, "BURGLARY", "NA"),
    "6D": (4500, "LARCENY FROM AUTO", "NA"),
    "6E": (6500, "LARCENY", "NA"),
    "6J": (4200, "LARCENY", "NA"),
    "7A": (5000, "AUTO THEFT", "NA"),
    "8AO": (150, "ARSON", "NA"),
}
FIREARM_VIOLENCE_CODES = ("1F", "9S")  # the scenes that produce NIBIN casings and ShotSpotter alerts

# Seasonality: relative monthly weights (summer peak of violence; ASSUMPTION shaped on Baltimore).
MONTH_WEIGHTS = (0.82, 0.78, 0.88, 0.95, 1.06, 1.14, 1.20, 1.16, 1.06, 1.00, 0.94, 0.92)

# --- Trace outcomes -------------------------------------------------------------------------

# Status mix of non-ghost traces. ASSUMPTION (modern rates above NAS 2005's 52% completion):
# ~74% completed before ghost guns, i.e. ~65-72% of all traces.
STATUS_MIX = {"COMPLETED": 0.74, "DEALER_ONLY": 0.05, "NO_RECORD": 0.035, "PRE_1968": 0.03,
              "SERIAL_PROBLEM": 0.07, "FORM_ERROR": 0.035, "PENDING": 0.04}
# Traces recovered in the last N days of the newest year are mostly still pending.
PENDING_RECENT_DAYS = 45
PENDING_RECENT_SHARE = 0.55
# NO_RECORD traces still name the (often out-of-business) dealer this often.
NO_RECORD_DEALER_SHARE = 0.5

# --- Where crime guns were bought (domain §3) ----------------------------------------------

# Of guns traced to a dealer: 18% from dealers inside the city, 82% outside (Mayor 2021),
# 63-65% outside Maryland (WYPR / Sun).
SOURCE_REGION_SHARES = {"CITY": 0.18, "MD": 0.18, "OUT": 0.64}
# Out-of-state source mix: Sun 2015 (2014 counts VA 533, PA 309, NC 157, FL 129, GA 114, TX 70 of
# 2,208); SC, WV, DE, OH and the tail are ASSUMPTION.
OUT_OF_STATE_MIX = {
    "VA": 0.26, "PA": 0.14, "NC": 0.08, "SC": 0.06, "GA": 0.055, "FL": 0.06, "WV": 0.05,
    "DE": 0.04, "OH": 0.04, "TX": 0.03, "NY": 0.02, "AL": 0.025, "TN": 0.025, "KY": 0.02,
    "NJ": 0.015, "IN": 0.01, "MI": 0.008, "IL": 0.008, "MO": 0.008, "LA": 0.008, "MS": 0.008,
    "AZ": 0.006, "CA": 0.006, "CO": 0.006, "WA": 0.006,
}
I95_STATES = ("VA", "NC", "SC", "GA", "FL")

# --- Dealers (ATF FFL list extract) ---------------------------------------------------------

# Licensees listed per state at scale 1 (ASSUMPTION: a multi-state extract of a few thousand;
# listing size grows with sqrt(scale) because real licensee counts do not grow with crime).
DEALERS_PER_STATE = {
    "MD": 620, "VA": 700, "PA": 800, "NC": 350, "SC": 200, "GA": 260, "FL": 320, "WV": 150,
    "DE": 60, "OH": 260, "TX": 260, "NY": 150, "AL": 100, "TN": 110, "KY": 100, "NJ": 50,
    "IN": 30, "MI": 30, "IL": 25, "MO": 25, "LA": 25, "MS": 20, "AZ": 25, "CA": 30, "CO": 20,
    "WA": 20,
}
BALTIMORE_CITY_DEALERS = 18  # MD dealers placed in Baltimore City ZIPs (LIC_CNTY 510)
# ATF region and IRS district per state: MD 8-52, VA 1-54, PA 8-23/8-25 are real prefixes
# (domain §2.2); the others follow the old IRS district numbering (plausible, not verified).
LICENSE_PREFIX = {
    "MD": ("8", "52"), "VA": ("1", "54"), "PA": ("8", "23"), "NC": ("1", "56"), "SC": ("1", "57"),
    "GA": ("1", "58"), "FL": ("1", "59"), "WV": ("8", "55"), "DE": ("8", "51"), "OH": ("4", "31"),
    "TX": ("5", "75"), "NY": ("6", "16"), "AL": ("4", "63"), "TN": ("4", "62"), "KY": ("4", "61"),
    "NJ": ("8", "22"), "IN": ("3", "35"), "MI": ("4", "38"), "IL": ("3", "36"), "MO": ("4", "43"),
    "LA": ("5", "72"), "MS": ("4", "64"), "AZ": ("9", "86"), "CA": ("9", "95"), "CO": ("8", "84"),
    "WA": ("9", "91"),
}
PA_WEST_DISTRICT = "25"  # Pittsburgh district for PA dealers west of -78.0
LICENSE_TYPE_MIX = {"01": 0.86, "02": 0.09, "07": 0.05}
# Dealer sales weight ~ rank^-exponent within its region/state; tuned so the ten biggest dealers
# sell ~25% of traced guns (Chicago Gun Trace Report 2017: "almost a quarter").
DEALER_ZIPF_EXPONENT = 1.15
# Maryland counties near the city sell more Baltimore crime guns (Koper 2014). FIPS -> factor.
MD_COUNTY_FACTOR = {"005": 4.0, "003": 2.5, "025": 2.0, "027": 1.8, "013": 1.5, "033": 1.3,
                    "031": 0.8}

# --- Time to crime (domain §3) --------------------------------------------------------------

# TTC = mixture of a "new gun" lognormal and an "old gun" lognormal. The share of the new-gun
# component is set per year from ATF's share under one year (19.7% 2019, 29.3% 2020, 32.2% 2021;
# ASSUMPTION 2022+: easing back to ~27%) so that ~25-30% are under 1 year and ~46% at <= 3 years.
TTC_FAST_MEDIAN_Y, TTC_FAST_SIGMA = 0.45, 0.9
TTC_SLOW_MEDIAN_Y, TTC_SLOW_SIGMA = 6.0, 0.75
TTC_UNDER_1Y_BY_YEAR = {2017: 0.20, 2018: 0.20, 2019: 0.197, 2020: 0.293, 2021: 0.322,
                        2022: 0.29, 2023: 0.27, 2024: 0.26, 2025: 0.26}
TTC_UNDER_1Y_DEFAULT = 0.26
# Relative propensity of a source to supply new guns: Virginia has the shortest median TTC
# (1.6 y, ATF via USAFacts); other corridor states are also fast (ASSUMPTION).
TTC_FAST_FACTOR = {"VA": 1.4, "NC": 1.3, "SC": 1.3, "GA": 1.3, "FL": 1.3, "PA": 1.0,
                   "CITY": 0.55, "MD": 0.65}
TTC_FAST_FACTOR_DEFAULT = 0.9
EARLIEST_PURCHASE_YEAR = 1970

# --- People ---------------------------------------------------------------------------------

POSSESSOR_IS_PURCHASER_SHARE = 0.10   # JHU fact sheet: ~90% possessor != purchaser
POSSESSOR_MISSING_SHARE = 0.08        # ASSUMPTION: found firearms and unknown possessors
ASSOCIATE_SHARE = 0.10                # ASSUMPTION
MULTIPLE_SALE_SHARE = 0.13            # ASSUMPTION for unplanted handgun sales; planted straw
# sales add more, for ~15-20% overall (Koper 2005: ~25% of MD recoveries).
RERECOVERY_SHARE = 0.015              # ASSUMPTION: a gun is recovered again (returned, stolen)
SCENE_RECOVERY_SHARE = {"1F": 0.02, "9S": 0.035, "3AF": 0.02, "4A": 0.02}  # of recoveries
MESSY_DATE_SHARE = 0.004              # rows written with MM/DD/YYYY dates (valid, formats.md)
MESSY_CASE_SHARE = 0.004              # rows with lower-case free text
REQUESTING_ORI = "MDBPD0000"

# --- Planted schemes (ground truth; ASSUMPTION counts at scale 1, grow with scale) ----------

STRAW_PURCHASERS = 8
HIGH_RISK_DEALERS = 3                 # two in MD near the city, one out of state
HIGH_RISK_EXTRA_TRACES = (18, 35)     # extra short-TTC traces per high-risk dealer (scale 1)
I95_PIPELINES = 4
SLOW_STRAW_PURCHASERS = 3             # a few guns a year over years, several stores, no multiple sale
# Innocent look-alikes (ASSUMPTION counts at scale 1 over five years).
LAWFUL_BIG_DEALERS = 3                # the biggest stores near the city, more traces at the usual TTC
LAWFUL_BIG_DEALER_EXTRA_TRACES = (80, 150)
BURGLARY_VICTIMS = 6                  # one owner's 3-6 guns stolen in a reported burglary
LONG_HELD_OWNERS = 8                  # 2-4 guns bought 5-25 years ago, recovered from the owner

# --- ShotSpotter (domain §2.4) --------------------------------------------------------------

# ASSUMPTION: coverage rollout. Western ~5 sq mi from 2018-05-31 (public); Eastern from
# 2019-06-01; parts of Southwestern from 2021-01-01 and Northwestern from 2022-01-01.
COVERAGE_AREAS = (
    ("WESTERN", 5.0, "2018-05-31"),
    ("EASTERN", 4.5, "2019-06-01"),
    ("SOUTHWESTERN", 4.0, "2021-01-01"),
    ("NORTHWESTERN", 4.0, "2022-01-01"),
)
ALERTS_PER_SQMI_YEAR = 330            # DC: ~37,600 alerts / 5.75 y / ~20 sq mi
SHOOTING_DETECTION_RATE = 0.90        # ASSUMPTION: share of covered shootings that are alerted
ALERT_TIME_OFFSET_S = 60              # alert within +-1 minute of the incident
ALERT_OFFSET_M = (25.0, 100.0)        # and 25-100 m from it

# --- NIBIN (domain §2.3; no public Baltimore counts) ----------------------------------------

# ASSUMPTION: casings recovered and entered at 75% of firearm scenes; 25% of scenes reuse a gun
# already active in the area (so ~30-40% of shootings produce a lead); a gun used at a scene is
# recovered with probability 0.14 afterwards (mean 40 days later); HIT share of leads 60%.
NIBIN_ENTRY_RATE = 0.75
NIBIN_REUSE_PROB = 0.25
NIBIN_REUSE_CITYWIDE = 0.25
NIBIN_ACTIVE_DAYS = 365
NIBIN_RECOVERY_PROB = 0.14
NIBIN_RECOVERY_MEAN_DAYS = 40
NIBIN_HIT_SHARE = 0.6
NIBIN_SCENE_RECOVERY_SHARE = 0.25     # recovered guns found at the scene of their last use
NIBIN_CALIBERS = {"9MM": 0.66, ".40 S&W": 0.10, ".45 AUTO": 0.08, ".380 AUTO": 0.07,
                  "7.62X39": 0.03, "5.56MM": 0.03, "10MM": 0.01, ".357 SIG": 0.02}

# Report ranges implied by the NIBIN assumptions above (per year at scale 1).
NIBIN_LEADS_PER_YEAR = (180, 400)
NIBIN_CHAINS_PER_YEAR = (70, 200)

# --- Calibration report: figure -> (target text, low, high) ---------------------------------

TOLERANCE = {
    "recoveries_rel": 0.10,           # +-10% of the year's target
    "homicides_rel": 0.12,
    "shootings_rel": 0.12,
    "ghost_rel": 0.30,                # +-30% (and +-8 absolute for tiny scales)
    "outside_city": (0.78, 0.86),
    "outside_md": (0.60, 0.68),
    "va_share_of_out": (0.20, 0.34),
    "ttc_under_1y": (0.23, 0.33),
    "ttc_le_3y": (0.40, 0.52),
    "ttc_median_y": (2.5, 5.0),
    "va_median_ttc_y": (0.9, 2.5),
    "pistol_share": (0.70, 0.80),
    "glock_share": (0.15, 0.21),
    "taurus_share": (0.07, 0.12),
    "sw_share": (0.07, 0.12),
    "ruger_share": (0.03, 0.07),
    "possessor_not_purchaser": (0.86, 0.94),
    "multiple_sale": (0.10, 0.25),
    "completed_share": (0.62, 0.75),
    "top10_dealer_share": (0.18, 0.32),
    "alerts_in_coverage": (1.0, 1.0),
    "corroborated_shootings": (0.80, 0.97),
    "shootings_with_lead": (0.28, 0.42),
}
