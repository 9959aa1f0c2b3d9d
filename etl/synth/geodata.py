"""Hand-authored approximate Baltimore geography (lon, lat in WGS84).

None of this is official: the outline follows the real city limits roughly (straight north, west
and east lines; the irregular south around the harbor, Brooklyn, Curtis Bay and Cherry Hill) and
the coordinates of stations, neighborhoods and hot spots are best approximations from memory of
the public addresses. Good enough for a demo map; official boundaries load over it.
"""

from __future__ import annotations

# Clockwise from the north-west corner. Extent ~ lon -76.711..-76.529, lat 39.197..39.372.
CITY_OUTLINE: tuple[tuple[float, float], ...] = (
    (-76.7112, 39.3721), (-76.6700, 39.3721), (-76.6200, 39.3721), (-76.5700, 39.3721),
    (-76.5297, 39.3721),                                   # north line (Northern Pkwy is south of it)
    (-76.5297, 39.3400), (-76.5297, 39.3050), (-76.5297, 39.2800), (-76.5297, 39.2600),
    (-76.5360, 39.2555), (-76.5450, 39.2505),             # Holabird / Seagirt
    (-76.5420, 39.2420), (-76.5340, 39.2290), (-76.5300, 39.2190),   # Patapsco channel
    (-76.5295, 39.2100),                                   # Hawkins Point
    (-76.5400, 39.2030), (-76.5530, 39.1985), (-76.5640, 39.1972),   # Curtis Creek mouth
    (-76.5740, 39.2020), (-76.5850, 39.2070), (-76.5980, 39.2095),
    (-76.6100, 39.2120),                                   # Brooklyn Park line
    (-76.6190, 39.2180), (-76.6290, 39.2240), (-76.6400, 39.2300),
    (-76.6500, 39.2360),                                   # Patapsco, Baltimore Highlands
    (-76.6590, 39.2430), (-76.6680, 39.2500), (-76.6770, 39.2560),
    (-76.6870, 39.2610), (-76.6960, 39.2660), (-76.7040, 39.2710),
    (-76.7112, 39.2778),                                   # south-west corner
    (-76.7112, 39.3050), (-76.7112, 39.3400),             # west line
)

# Water inside the city limits: points (crimes, recoveries, alerts) are never placed there.
HARBOR_WATER: tuple[tuple[tuple[float, float], ...], ...] = (
    (   # Northwest Harbor (Inner Harbor to Fort McHenry) and the Patapsco to the Key Bridge
        (-76.6120, 39.2850), (-76.6030, 39.2830), (-76.5920, 39.2800), (-76.5790, 39.2750),
        (-76.5680, 39.2700), (-76.5600, 39.2640), (-76.5500, 39.2560), (-76.5420, 39.2440),
        (-76.5340, 39.2290), (-76.5320, 39.2190), (-76.5450, 39.2200), (-76.5560, 39.2290),
        (-76.5680, 39.2420), (-76.5760, 39.2540), (-76.5800, 39.2620), (-76.5870, 39.2680),
        (-76.5980, 39.2730), (-76.6080, 39.2780), (-76.6120, 39.2820),
    ),
    (   # Middle Branch
        (-76.6150, 39.2660), (-76.6250, 39.2640), (-76.6350, 39.2590), (-76.6420, 39.2530),
        (-76.6380, 39.2500), (-76.6280, 39.2540), (-76.6180, 39.2590), (-76.6100, 39.2620),
    ),
)

# name, code (first digit of Post), population (sums to 570,000; ASSUMPTION split), station
# (lon, lat) from the addresses in domain §2.5, and auxiliary seeds that pull the Voronoi cells
# closer to the real district shapes (ours: Northern reaches Charles Village, Southern keeps
# Curtis Bay and Locust Point, Southeastern keeps Canton).
DISTRICTS: tuple[tuple[str, int, int, tuple[float, float], tuple[tuple[float, float], ...]], ...] = (
    ("CENTRAL", 1, 45_000, (-76.6080, 39.2900), ()),                      # 500 E Baltimore St
    ("SOUTHEASTERN", 2, 75_000, (-76.5475, 39.2893), ((-76.5750, 39.2840),)),  # 5710 Eastern Ave
    ("EASTERN", 3, 45_000, (-76.5745, 39.3068), ()),                      # 1620 Edison Hwy
    ("NORTHEASTERN", 4, 100_000, (-76.5890, 39.3410), ((-76.5550, 39.3550),)),  # 1900 Argonne Dr
    ("NORTHERN", 5, 75_000, (-76.6484, 39.3437), ((-76.6150, 39.3310),)),  # 2201 W Cold Spring Ln
    ("NORTHWESTERN", 6, 65_000, (-76.6851, 39.3434), ()),                 # 5271 Reisterstown Rd
    ("WESTERN", 7, 40_000, (-76.6450, 39.3000), ()),                      # 1034 N Mount St
    ("SOUTHWESTERN", 8, 60_000, (-76.6791, 39.2822), ()),                 # 424 Font Hill Ave
    ("SOUTHERN", 9, 65_000, (-76.6240, 39.2515),                          # 10 Cherry Hill Rd
     ((-76.5850, 39.2230), (-76.6030, 39.2700))),
)

# Neighborhood name -> approximate centre. The district of each is decided by the polygons.
NEIGHBORHOODS: tuple[tuple[str, float, float], ...] = (
    ("Downtown", -76.6140, 39.2890), ("Mount Vernon", -76.6150, 39.2980),
    ("Seton Hill", -76.6240, 39.2950), ("Downtown West", -76.6240, 39.2900),
    ("Midtown-Belvedere", -76.6170, 39.3040), ("Jonestown", -76.6010, 39.2930),
    ("Bolton Hill", -76.6260, 39.3050), ("Charles North", -76.6170, 39.3090),
    ("Inner Harbor", -76.6110, 39.2860), ("Little Italy", -76.6000, 39.2860),
    ("Canton", -76.5750, 39.2800), ("Highlandtown", -76.5700, 39.2880),
    ("Fells Point", -76.5920, 39.2830), ("Patterson Park Neighborhood", -76.5800, 39.2920),
    ("Brewers Hill", -76.5640, 39.2820), ("Greektown", -76.5550, 39.2870),
    ("Bayview", -76.5450, 39.2920), ("Holabird Industrial Park", -76.5400, 39.2700),
    ("O'Donnell Heights", -76.5450, 39.2750), ("Graceland Park", -76.5380, 39.2830),
    ("Butchers Hill", -76.5870, 39.2900), ("Upper Fells Point", -76.5930, 39.2880),
    ("Oliver", -76.5960, 39.3060), ("Broadway East", -76.5880, 39.3070),
    ("Berea", -76.5760, 39.3090), ("Milton-Montford", -76.5820, 39.3050),
    ("Johnston Square", -76.6040, 39.3060), ("McElderry Park", -76.5790, 39.2990),
    ("Middle East", -76.5930, 39.2990), ("Ellwood Park/Monument", -76.5700, 39.2990),
    ("Darley Park", -76.5890, 39.3130), ("Biddle Street", -76.5760, 39.3030),
    ("Belair-Edison", -76.5730, 39.3190), ("Frankford", -76.5520, 39.3280),
    ("Hamilton Hills", -76.5570, 39.3570), ("Lauraville", -76.5650, 39.3440),
    ("Waltherson", -76.5530, 39.3470), ("Cedonia", -76.5390, 39.3290),
    ("Arcadia", -76.5680, 39.3530), ("Parkside", -76.5590, 39.3240),
    ("Moravia-Walther", -76.5460, 39.3400), ("Glenham-Belhar", -76.5400, 39.3480),
    ("Harford-Echodale", -76.5750, 39.3570),
    ("Coldstream Homestead Montebello", -76.5920, 39.3200),
    ("Hampden", -76.6370, 39.3330), ("Roland Park", -76.6360, 39.3530),
    ("Charles Village", -76.6170, 39.3260), ("Waverly", -76.6050, 39.3290),
    ("Remington", -76.6300, 39.3200), ("Pen Lucy", -76.6050, 39.3430),
    ("Guilford", -76.6170, 39.3400), ("Homeland", -76.6160, 39.3610),
    ("Govans", -76.6070, 39.3560), ("Woodberry", -76.6480, 39.3310),
    ("Medfield", -76.6430, 39.3400), ("Wyndhurst", -76.6350, 39.3600),
    ("Central Park Heights", -76.6700, 39.3380), ("Pimlico Good Neighbors", -76.6630, 39.3330),
    ("Arlington", -76.6820, 39.3510), ("Cylburn", -76.6640, 39.3510),
    ("Glen", -76.6930, 39.3600), ("Fallstaff", -76.6980, 39.3640),
    ("Woodmere", -76.6990, 39.3400), ("Howard Park", -76.7010, 39.3380),
    ("Grove Park", -76.7020, 39.3290), ("Cheswolde", -76.6850, 39.3680),
    ("Dolfield", -76.6900, 39.3330), ("Forest Park", -76.6890, 39.3230),
    ("Langston Hughes", -76.6710, 39.3440), ("Park Circle", -76.6610, 39.3260),
    ("Sandtown-Winchester", -76.6420, 39.3000), ("Harlem Park", -76.6390, 39.2960),
    ("Upton", -76.6300, 39.3000), ("Druid Heights", -76.6320, 39.3060),
    ("Penn North", -76.6440, 39.3100), ("Mondawmin", -76.6530, 39.3170),
    ("Coppin Heights/Ash-Co-East", -76.6560, 39.3090), ("Easterwood", -76.6550, 39.3050),
    ("Midtown-Edmondson", -76.6490, 39.2950), ("Bridgeview/Greenlawn", -76.6620, 39.3050),
    ("Rosemont", -76.6680, 39.3000), ("Poppleton", -76.6330, 39.2890),
    ("Edmondson Village", -76.6870, 39.2930), ("Irvington", -76.6850, 39.2800),
    ("Carroll-South Hilton", -76.6660, 39.2820), ("Franklintown Road", -76.6720, 39.2950),
    ("Allendale", -76.6800, 39.2880), ("Uplands", -76.6980, 39.2920),
    ("Gwynns Falls", -76.6800, 39.2990), ("Shipley Hill", -76.6540, 39.2840),
    ("Mill Hill", -76.6560, 39.2800), ("Violetville", -76.6740, 39.2670),
    ("Beechfield", -76.6980, 39.2790), ("Ten Hills", -76.7030, 39.2960),
    ("Yale Heights", -76.6930, 39.2790), ("Carrollton Ridge", -76.6460, 39.2850),
    ("Cherry Hill", -76.6210, 39.2490), ("Brooklyn", -76.6000, 39.2310),
    ("Curtis Bay", -76.5850, 39.2250), ("Federal Hill", -76.6110, 39.2790),
    ("Locust Point", -76.5920, 39.2710), ("Westport", -76.6320, 39.2600),
    ("Lakeland", -76.6470, 39.2540), ("Morrell Park", -76.6580, 39.2660),
    ("Washington Village/Pigtown", -76.6300, 39.2820), ("Riverside", -76.6070, 39.2740),
    ("South Baltimore", -76.6130, 39.2730), ("Mount Winans", -76.6440, 39.2610),
    ("Fairfield Area", -76.5750, 39.2380), ("Hawkins Point", -76.5440, 39.2150),
    ("Port Covington", -76.6160, 39.2660),
)

# Violence hot spots: (lon, lat, sigma in metres, weight). Western, Eastern, Southwestern and
# Northwestern are heavier, as in Baltimore's shooting maps.
VIOLENCE_HOTSPOTS: tuple[tuple[float, float, float, float], ...] = (
    (-76.6430, 39.3020, 500, 1.7), (-76.6440, 39.3100, 450, 1.2), (-76.6400, 39.2950, 450, 1.0),
    (-76.5900, 39.3070, 500, 1.6), (-76.5790, 39.2985, 450, 1.1), (-76.5700, 39.3200, 600, 0.8),
    (-76.6880, 39.2920, 600, 1.0), (-76.6620, 39.2830, 500, 0.9), (-76.6450, 39.2840, 450, 0.9),
    (-76.6780, 39.3400, 550, 1.5), (-76.6720, 39.3260, 450, 0.8), (-76.6900, 39.3250, 500, 0.6),
    (-76.6200, 39.2490, 450, 0.8), (-76.5950, 39.2300, 600, 0.7), (-76.6210, 39.2915, 400, 0.7),
    (-76.6070, 39.3250, 450, 0.4), (-76.5500, 39.3270, 600, 0.5), (-76.5700, 39.2940, 500, 0.4),
    (-76.6040, 39.3060, 400, 0.6),
)
# Property crime also clusters downtown and in the commercial corridors.
PROPERTY_HOTSPOTS: tuple[tuple[float, float, float, float], ...] = (
    (-76.6130, 39.2880, 700, 1.5), (-76.5850, 39.2830, 700, 1.0), (-76.6350, 39.3310, 600, 0.7),
    (-76.5700, 39.2880, 600, 0.7), (-76.6180, 39.3260, 600, 0.6), (-76.6100, 39.2770, 600, 0.6),
    (-76.6880, 39.2920, 700, 0.5), (-76.5700, 39.3200, 700, 0.5), (-76.6700, 39.3380, 700, 0.5),
)

# Streets (real Baltimore street names) used for synthetic block addresses, by district code.
STREETS: dict[int, tuple[str, ...]] = {
    1: ("W FAYETTE ST", "N HOWARD ST", "W LEXINGTON ST", "N CHARLES ST", "E BALTIMORE ST",
        "N EUTAW ST", "W MULBERRY ST", "N CALVERT ST", "PARK AVE", "N GAY ST", "ST PAUL ST",
        "W MADISON ST", "N PACA ST", "E PRESTON ST"),
    2: ("EASTERN AVE", "S CONKLING ST", "BOSTON ST", "S HIGHLAND AVE", "O'DONNELL ST",
        "S BROADWAY", "E PRATT ST", "DUNDALK AVE", "HOLABIRD AVE", "S PONCA ST", "FLEET ST",
        "S CLINTON ST", "BANK ST"),
    3: ("E NORTH AVE", "N MILTON AVE", "E MONUMENT ST", "N CAROLINE ST", "E PRESTON ST",
        "N CHESTER ST", "E BIDDLE ST", "N PATTERSON PARK AVE", "E EAGER ST", "N MONTFORD AVE",
        "N ROSE ST", "E LAFAYETTE AVE", "N ELLWOOD AVE", "E OLIVER ST"),
    4: ("BELAIR RD", "HARFORD RD", "FRANKFORD AVE", "ERDMAN AVE", "SINCLAIR LN", "MORAVIA RD",
        "PARKSIDE DR", "E NORTHERN PKWY", "THE ALAMEDA", "LOCH RAVEN BLVD", "HILLEN RD",
        "CEDONIA AVE"),
    5: ("GREENMOUNT AVE", "YORK RD", "W 36TH ST", "E 33RD ST", "W COLD SPRING LN", "FALLS RD",
        "N CHARLES ST", "ROLAND AVE", "E 25TH ST", "GREENSPRING AVE", "E 43RD ST",
        "BELVEDERE AVE"),
    6: ("PARK HEIGHTS AVE", "REISTERSTOWN RD", "W BELVEDERE AVE", "LIBERTY HEIGHTS AVE",
        "W NORTHERN PKWY", "GARRISON BLVD", "WABASH AVE", "PIMLICO RD", "W ROGERS AVE",
        "DOLFIELD AVE", "SPAULDING AVE", "QUANTICO AVE", "WOODLAND AVE"),
    7: ("W NORTH AVE", "PENNSYLVANIA AVE", "N FULTON AVE", "W LAFAYETTE AVE", "N MONROE ST",
        "EDMONDSON AVE", "W PRESSTMAN ST", "N CAREY ST", "W BALTIMORE ST", "N MOUNT ST",
        "DRUID HILL AVE", "W FRANKLIN ST", "N SMALLWOOD ST", "W MOSHER ST"),
    8: ("EDMONDSON AVE", "FREDERICK AVE", "WILKENS AVE", "FRANKLINTOWN RD", "N HILTON ST",
        "W BALTIMORE ST", "COOKS LN", "ALLENDALE ST", "WOODINGTON RD", "BENTALOU ST",
        "OLD FREDERICK RD", "W MULBERRY ST"),
    9: ("E PATAPSCO AVE", "S HANOVER ST", "CHERRY HILL RD", "S CHARLES ST", "LIGHT ST",
        "CHERRYLAND RD", "POTEE ST", "PENNINGTON AVE", "CURTIS AVE", "FORT AVE",
        "WASHINGTON BLVD", "ANNAPOLIS RD", "S MONROE ST"),
}
