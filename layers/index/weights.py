"""The trafficking index's one configuration: thresholds, weights and labels, with a version.

Change a weight, change VERSION: the version is stored with every score row and every export, so a
score can always be traced to the weights that produced it.

Every baseline comes from the loaded city's own data (layers/index/compute.py): how rare a short
time-to-crime is, how rare a repeat purchaser is, the share of multiple sales, each dealer peer
group's short-TTC share. The weights below only say how much each indicator counts once its rarity in
this city is known; the same code computes another city's index from that city's data.
"""

from __future__ import annotations

VERSION = "2026.12-3"

SHORT_TTC_DAYS = 365          # under one year: the strong signal (domain.md §4)
RED_FLAG_TTC_DAYS = 3 * 365   # ATF's red flag: under three years
I95_STATES = ("VA", "NC", "SC", "GA", "FL")
ROW_IDS = 200                 # source row ids kept per contribution (the count is always complete)

# Purchaser: each indicator's points = weight x its rarity in this city (-log10 of the city's share).
PURCHASER = {
    "repeat": 1.0,        # per traced gun beyond the first x -log10(share of purchasers with 2+ guns)
    "fast_other": 1.0,    # per gun recovered from someone else: -log10(city share at that TTC or faster)
    "multiple": 0.5,      # per gun sold in a multiple sale x -log10(city share of multiple sales)
    "dealers": 0.5,       # per dealer beyond the first
    "span": 0.5,          # ln(1 + years) between first and last purchase of fast guns (slow straw buying)
    "corridor": 0.15,     # per fast gun bought in an I-95 corridor state
}
# Dealer: each count's excess share over its peer group's (or the city's) share, shrunk with
# EB_PRIOR_WEIGHT prior traces, in standard units of a DEALER_REFERENCE_TRACES-trace dealer; positive part.
DEALER = {
    "short": 1.0,         # traces under one year against the peer group's short-TTC share
    "repeat": 0.6,        # traces bought by repeat purchasers whose guns came back fast, against the city's share
    "multiple": 0.3,      # traces sold in multiple sales against the city's share
    "buyers": 1.0,        # per flagged purchaser (score >= PURCHASER_FLAG) who bought a traced gun there
}
PURCHASER_FLAG = 5.0          # a purchaser scoring this much is flagged (several rare indicators at once)
FLAGGED_BUYERS_CAP = 4
DEALER_PRIOR_TRACES = 200     # peer-group shares are shrunk toward the city's with this many traces
DEALER_REFERENCE_TRACES = 30  # a dealer's excess share is scored in standard units of a dealer this size
EB_PRIOR_WEIGHT = 10          # z = (k - n p) / sqrt((n + m0) p (1 - p)): a dealer's own few traces count less
MIN_RATE, MAX_RATE = 0.01, 0.99
# Firearm: points per indicator; the purchaser's and dealer's scores count scaled to [0, 1] at CAP.
FIREARM = {
    "ttc": 1.0,               # x -log10(city share at that TTC or faster)
    "other_hands": 0.75,      # recovered from someone other than the buyer within three years
    "multiple": 0.5,          # x -log10(city share of multiple sales)
    "out_of_state": 0.15,
    "corridor": 0.15,         # on top of out-of-state
    "obliterated": 1.0,
    "restored": 0.5,          # on top of obliterated: the lab restored the serial, so the gun's source is known
    "stolen_ffl": 1.0,        # reported stolen from a licensee (theft or loss): it left the legal market unsold
    "repeat_recovery": 0.5,   # per recovery beyond the first
    "nibin": 0.5,             # per NIBIN-linked incident beyond the first (up to NIBIN_CAP)
    "purchaser": 2.0,         # x min(purchaser score, PURCHASER_CAP) / PURCHASER_CAP
    "dealer": 1.0,            # x min(dealer score, DEALER_CAP) / DEALER_CAP
}
NIBIN_CAP = 4
PURCHASER_CAP = 6.0
DEALER_CAP = 8.0
# Incremental recompute after a trace load (layers/index/compute.py refresh_touched): only the records the
# load touched are recomputed, against the baselines of the last computation, while the traces added
# since the last whole recompute stay under this share of the total and no trace-level city share's
# rarity (-log10 of it, the points per occurrence) moved by more than BASELINE_TOLERANCE (0.02: a share
# within about 5% of itself); otherwise everything is recomputed.
INCREMENTAL_MAX_NEW_SHARE = 0.05
BASELINE_TOLERANCE = 0.02
# Source state: z of its short-TTC share against the city's, plus the corridor.
STATE = {"short": 1.0, "repeat": 0.5, "corridor": 0.5}

LABELS = {
    "repeat": "Repeat purchaser",
    "fast_other": "Fast guns in other hands",
    "multiple": "Multiple sales",
    "dealers": "Several dealers",
    "span": "Buying spread over time",
    "corridor": "I-95 corridor",
    "short": "Short time-to-crime share",
    "ttc": "Time-to-crime",
    "other_hands": "Possessor ≠ purchaser",
    "out_of_state": "Out-of-state source",
    "obliterated": "Obliterated serial",
    "restored": "Restored obliterated serial",
    "stolen_ffl": "Stolen from a dealer",
    "repeat_recovery": "Recovered again",
    "nibin": "NIBIN-linked incidents",
    "purchaser": "Purchaser's score",
    "dealer": "Dealer's score",
    "buyers": "Sold to flagged purchasers",
}
