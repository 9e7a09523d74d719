//! Static reference tables: Azure regions, VM sizes, meters, countries and cities, attacker origins, apps,
//! devices and names. Prices are realistic pay-as-you-go list prices (USD, in micro-dollars), not exact.

/// A place a sign-in can come from, with its UTC offset in minutes (daylight saving ignored).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    pub country: &'static str,
    pub city: &'static str,
    pub state: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub utc_min: i32,
}

const fn place(
    country: &'static str,
    city: &'static str,
    state: &'static str,
    lat: f64,
    lon: f64,
    utc_min: i32,
) -> Place {
    Place {
        country,
        city,
        state,
        lat,
        lon,
        utc_min,
    }
}

/// An Azure region: Partner Center meter region name, ARM location, regional price factor (per mille).
#[derive(Debug)]
pub(crate) struct Region {
    pub meter: &'static str,
    pub loc: &'static str,
    pub price_permille: i64,
}

const fn region(meter: &'static str, loc: &'static str, price_permille: i64) -> Region {
    Region {
        meter,
        loc,
        price_permille,
    }
}

pub(crate) const REGIONS: &[Region] = &[
    region("US East", "eastus", 1000),                     // 0
    region("US East 2", "eastus2", 1000),                  // 1
    region("US West 2", "westus2", 1000),                  // 2
    region("US Central", "centralus", 1000),               // 3
    region("US South Central", "southcentralus", 1000),    // 4
    region("US West 3", "westus3", 1000),                  // 5
    region("CA Central", "canadacentral", 1080),           // 6
    region("BR South", "brazilsouth", 1530),               // 7
    region("EU West", "westeurope", 1100),                 // 8
    region("EU North", "northeurope", 1050),               // 9
    region("UK South", "uksouth", 1090),                   // 10
    region("DE West Central", "germanywestcentral", 1120), // 11
    region("FR Central", "francecentral", 1120),           // 12
    region("CH North", "switzerlandnorth", 1250),          // 13
    region("SE Central", "swedencentral", 1060),           // 14
    region("PL Central", "polandcentral", 1100),           // 15
    region("IT North", "italynorth", 1120),                // 16
    region("ES Central", "spaincentral", 1100),            // 17
    region("AP Southeast", "southeastasia", 1120),         // 18
    region("AP East", "eastasia", 1250),                   // 19
    region("JA East", "japaneast", 1220),                  // 20
    region("KR Central", "koreacentral", 1150),            // 21
    region("IN Central", "centralindia", 1050),            // 22
    region("AU East", "australiaeast", 1200),              // 23
    region("ZA North", "southafricanorth", 1180),          // 24
    region("AE North", "uaenorth", 1200),                  // 25
    region("NO East", "norwayeast", 1150),                 // 26
    region("JA West", "japanwest", 1220),                  // 27
];

/// Regions cryptojackers like: large GPU/HPC capacity, spread over continents.
pub(crate) const ATTACK_REGIONS: &[usize] = &[
    0, 1, 2, 4, 5, 7, 8, 9, 10, 14, 18, 19, 20, 21, 22, 23, 24, 26, 27,
];

/// A customer country: weight in the book, whether EUR billing is plausible, company suffixes, cities, ISP
/// address prefixes (first two octets) and preferred Azure regions (indexes into [`REGIONS`]).
pub(crate) struct Country {
    pub code: &'static str,
    pub weight: u32,
    pub eur: bool,
    pub suffixes: &'static [&'static str],
    pub cities: &'static [Place],
    pub ip_prefixes: &'static [(u8, u8)],
    pub regions: &'static [usize],
}

pub(crate) const COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        weight: 30,
        eur: false,
        suffixes: &["Inc", "LLC", "Corp", "Group"],
        cities: &[
            place("US", "New York", "New York", 40.71, -74.01, -300),
            place("US", "Chicago", "Illinois", 41.88, -87.63, -360),
            place("US", "Denver", "Colorado", 39.74, -104.99, -420),
            place("US", "Seattle", "Washington", 47.61, -122.33, -480),
            place("US", "Austin", "Texas", 30.27, -97.74, -360),
            place("US", "Atlanta", "Georgia", 33.75, -84.39, -300),
            place("US", "Boston", "Massachusetts", 42.36, -71.06, -300),
        ],
        ip_prefixes: &[
            (73, 14),
            (73, 162),
            (24, 5),
            (98, 210),
            (67, 180),
            (71, 59),
            (108, 28),
        ],
        regions: &[0, 1, 2, 3, 4, 5],
    },
    Country {
        code: "CA",
        weight: 5,
        eur: false,
        suffixes: &["Inc", "Ltd", "Corp"],
        cities: &[
            place("CA", "Toronto", "Ontario", 43.65, -79.38, -300),
            place("CA", "Vancouver", "British Columbia", 49.28, -123.12, -480),
            place("CA", "Montreal", "Quebec", 45.50, -73.57, -300),
        ],
        ip_prefixes: &[(99, 224), (142, 112), (174, 88)],
        regions: &[6, 0, 1],
    },
    Country {
        code: "BR",
        weight: 4,
        eur: false,
        suffixes: &["Ltda", "S.A."],
        cities: &[
            place("BR", "Sao Paulo", "Sao Paulo", -23.55, -46.63, -180),
            place(
                "BR",
                "Rio de Janeiro",
                "Rio de Janeiro",
                -22.91,
                -43.17,
                -180,
            ),
        ],
        ip_prefixes: &[(177, 32), (187, 10), (189, 6)],
        regions: &[7, 1],
    },
    Country {
        code: "MX",
        weight: 2,
        eur: false,
        suffixes: &["S.A. de C.V."],
        cities: &[
            place("MX", "Mexico City", "Ciudad de Mexico", 19.43, -99.13, -360),
            place("MX", "Monterrey", "Nuevo Leon", 25.69, -100.32, -360),
        ],
        ip_prefixes: &[(187, 188), (201, 141)],
        regions: &[4, 0],
    },
    Country {
        code: "GB",
        weight: 10,
        eur: false,
        suffixes: &["Ltd", "PLC", "LLP"],
        cities: &[
            place("GB", "London", "England", 51.51, -0.13, 0),
            place("GB", "Manchester", "England", 53.48, -2.24, 0),
            place("GB", "Edinburgh", "Scotland", 55.95, -3.19, 0),
        ],
        ip_prefixes: &[(81, 2), (86, 128), (90, 196), (2, 96)],
        regions: &[10, 8, 9],
    },
    Country {
        code: "DE",
        weight: 10,
        eur: true,
        suffixes: &["GmbH", "AG", "GmbH & Co. KG"],
        cities: &[
            place("DE", "Berlin", "Berlin", 52.52, 13.40, 60),
            place("DE", "Munich", "Bayern", 48.14, 11.58, 60),
            place("DE", "Hamburg", "Hamburg", 53.55, 9.99, 60),
            place("DE", "Frankfurt am Main", "Hessen", 50.11, 8.68, 60),
        ],
        ip_prefixes: &[(84, 150), (91, 64), (79, 200), (93, 192)],
        regions: &[11, 8, 9],
    },
    Country {
        code: "FR",
        weight: 6,
        eur: true,
        suffixes: &["SAS", "SARL", "SA"],
        cities: &[
            place("FR", "Paris", "Ile-de-France", 48.86, 2.35, 60),
            place("FR", "Lyon", "Auvergne-Rhone-Alpes", 45.76, 4.84, 60),
        ],
        ip_prefixes: &[(90, 84), (82, 64), (86, 246)],
        regions: &[12, 8],
    },
    Country {
        code: "NL",
        weight: 5,
        eur: true,
        suffixes: &["B.V.", "N.V."],
        cities: &[
            place("NL", "Amsterdam", "Noord-Holland", 52.37, 4.90, 60),
            place("NL", "Rotterdam", "Zuid-Holland", 51.92, 4.48, 60),
        ],
        ip_prefixes: &[(83, 160), (145, 53), (84, 241)],
        regions: &[8, 9],
    },
    Country {
        code: "ES",
        weight: 3,
        eur: true,
        suffixes: &["S.L.", "S.A."],
        cities: &[
            place("ES", "Madrid", "Madrid", 40.42, -3.70, 60),
            place("ES", "Barcelona", "Cataluna", 41.39, 2.17, 60),
        ],
        ip_prefixes: &[(83, 44), (88, 26)],
        regions: &[17, 8],
    },
    Country {
        code: "IT",
        weight: 3,
        eur: true,
        suffixes: &["S.r.l.", "S.p.A."],
        cities: &[
            place("IT", "Milan", "Lombardia", 45.46, 9.19, 60),
            place("IT", "Rome", "Lazio", 41.90, 12.50, 60),
        ],
        ip_prefixes: &[(79, 18), (151, 38)],
        regions: &[16, 8],
    },
    Country {
        code: "SE",
        weight: 2,
        eur: false,
        suffixes: &["AB"],
        cities: &[
            place("SE", "Stockholm", "Stockholms lan", 59.33, 18.07, 60),
            place("SE", "Gothenburg", "Vastra Gotaland", 57.71, 11.97, 60),
        ],
        ip_prefixes: &[(78, 69), (81, 224)],
        regions: &[14, 9],
    },
    Country {
        code: "PL",
        weight: 2,
        eur: false,
        suffixes: &["Sp. z o.o.", "S.A."],
        cities: &[
            place("PL", "Warsaw", "Mazowieckie", 52.23, 21.01, 60),
            place("PL", "Krakow", "Malopolskie", 50.06, 19.94, 60),
        ],
        ip_prefixes: &[(83, 5), (89, 64)],
        regions: &[15, 11, 8],
    },
    Country {
        code: "CH",
        weight: 2,
        eur: false,
        suffixes: &["AG", "GmbH", "SA"],
        cities: &[
            place("CH", "Zurich", "Zurich", 47.38, 8.54, 60),
            place("CH", "Geneva", "Geneve", 46.20, 6.14, 60),
        ],
        ip_prefixes: &[(85, 0), (178, 196)],
        regions: &[13, 8],
    },
    Country {
        code: "IN",
        weight: 4,
        eur: false,
        suffixes: &["Pvt Ltd", "Ltd"],
        cities: &[
            place("IN", "Bengaluru", "Karnataka", 12.97, 77.59, 330),
            place("IN", "Mumbai", "Maharashtra", 19.08, 72.88, 330),
            place("IN", "Pune", "Maharashtra", 18.52, 73.86, 330),
        ],
        ip_prefixes: &[(49, 36), (117, 96), (106, 51)],
        regions: &[22, 18],
    },
    Country {
        code: "JP",
        weight: 3,
        eur: false,
        suffixes: &["K.K.", "Co., Ltd."],
        cities: &[
            place("JP", "Tokyo", "Tokyo", 35.68, 139.69, 540),
            place("JP", "Osaka", "Osaka", 34.69, 135.50, 540),
        ],
        ip_prefixes: &[(126, 72), (153, 156), (60, 32)],
        regions: &[20, 27, 19],
    },
    Country {
        code: "SG",
        weight: 2,
        eur: false,
        suffixes: &["Pte Ltd"],
        cities: &[place("SG", "Singapore", "Singapore", 1.35, 103.82, 480)],
        ip_prefixes: &[(116, 86), (175, 156)],
        regions: &[18, 19],
    },
    Country {
        code: "AU",
        weight: 4,
        eur: false,
        suffixes: &["Pty Ltd"],
        cities: &[
            place("AU", "Sydney", "New South Wales", -33.87, 151.21, 600),
            place("AU", "Melbourne", "Victoria", -37.81, 144.96, 600),
        ],
        ip_prefixes: &[(101, 160), (120, 148), (1, 144)],
        regions: &[23, 18],
    },
    Country {
        code: "ZA",
        weight: 2,
        eur: false,
        suffixes: &["(Pty) Ltd"],
        cities: &[
            place("ZA", "Johannesburg", "Gauteng", -26.20, 28.05, 120),
            place("ZA", "Cape Town", "Western Cape", -33.92, 18.42, 120),
        ],
        ip_prefixes: &[(41, 13), (105, 224)],
        regions: &[24, 8],
    },
    Country {
        code: "AE",
        weight: 1,
        eur: false,
        suffixes: &["LLC", "FZE"],
        cities: &[place("AE", "Dubai", "Dubai", 25.20, 55.27, 240)],
        ip_prefixes: &[(94, 200), (86, 96)],
        regions: &[25, 8],
    },
];

/// Where account-takeover and fraudulent sign-ups come from. `anonymizer` marks Tor exits / VPN hosting ranges.
pub(crate) struct Origin {
    pub place: Place,
    pub ip_prefixes: &'static [(u8, u8)],
    pub anonymizer: bool,
}

pub(crate) const ORIGINS: &[Origin] = &[
    Origin {
        place: place("RO", "Bucharest", "Bucuresti", 44.43, 26.10, 120),
        ip_prefixes: &[(185, 220), (89, 38)],
        anonymizer: true,
    },
    Origin {
        place: place("NG", "Lagos", "Lagos", 6.52, 3.38, 60),
        ip_prefixes: &[(102, 89), (105, 112), (197, 210)],
        anonymizer: false,
    },
    Origin {
        place: place("VN", "Hanoi", "Ha Noi", 21.03, 105.85, 420),
        ip_prefixes: &[(14, 160), (113, 160)],
        anonymizer: false,
    },
    Origin {
        place: place("RU", "Moscow", "Moscow", 55.76, 37.62, 180),
        ip_prefixes: &[(5, 188), (91, 219), (95, 165)],
        anonymizer: false,
    },
    Origin {
        place: place("ID", "Jakarta", "Jakarta", -6.21, 106.85, 420),
        ip_prefixes: &[(36, 72), (114, 124)],
        anonymizer: false,
    },
    Origin {
        place: place("UA", "Kyiv", "Kyiv City", 50.45, 30.52, 120),
        ip_prefixes: &[(91, 196), (176, 36)],
        anonymizer: false,
    },
    Origin {
        place: place("BG", "Sofia", "Sofia-Capital", 42.70, 23.32, 120),
        ip_prefixes: &[(87, 246), (95, 42)],
        anonymizer: false,
    },
    Origin {
        place: place("NL", "Amsterdam", "Noord-Holland", 52.37, 4.90, 60),
        ip_prefixes: &[(185, 220), (45, 154)],
        anonymizer: true,
    },
    Origin {
        place: place("DE", "Frankfurt am Main", "Hessen", 50.11, 8.68, 60),
        ip_prefixes: &[(185, 220), (193, 189)],
        anonymizer: true,
    },
    Origin {
        place: place("SE", "Stockholm", "Stockholms lan", 59.33, 18.07, 60),
        ip_prefixes: &[(171, 25)],
        anonymizer: true,
    },
    Origin {
        place: place("CN", "Shenzhen", "Guangdong", 22.54, 114.06, 480),
        ip_prefixes: &[(113, 87), (183, 14)],
        anonymizer: false,
    },
    Origin {
        place: place("TR", "Istanbul", "Istanbul", 41.01, 28.98, 180),
        ip_prefixes: &[(78, 180), (88, 230)],
        anonymizer: false,
    },
];

/// Countries whose cards show up on stolen-card sign-ups (ISO 3166 alpha-2).
pub(crate) const CARD_FRAUD_COUNTRIES: &[&str] = &[
    "GB", "US", "FR", "BR", "NG", "RO", "ID", "VN", "TR", "MX", "IN", "UA",
];

/// A VM size: ARM name, Partner Center meter subcategory and meter name, hourly price (micro-USD), vCPUs and
/// its quota family.
#[derive(Debug)]
pub(crate) struct VmSize {
    pub arm: &'static str,
    pub series: &'static str,
    pub meter: &'static str,
    pub price_micro: i64,
    pub vcpus: u32,
    pub family: &'static str,
}

const fn vm(
    arm: &'static str,
    series: &'static str,
    meter: &'static str,
    price_micro: i64,
    vcpus: u32,
    family: &'static str,
) -> VmSize {
    VmSize {
        arm,
        series,
        meter,
        price_micro,
        vcpus,
        family,
    }
}

pub(crate) const VM_SIZES: &[VmSize] = &[
    vm(
        "Standard_B2s",
        "BS Series",
        "B2s",
        41_600,
        2,
        "standardBSFamily",
    ), // 0
    vm(
        "Standard_B2ms",
        "BS Series",
        "B2ms",
        83_200,
        2,
        "standardBSFamily",
    ), // 1
    vm(
        "Standard_B4ms",
        "BS Series",
        "B4ms",
        166_400,
        4,
        "standardBSFamily",
    ), // 2
    vm(
        "Standard_D2s_v3",
        "Dv3/DSv3 Series",
        "D2 v3/D2s v3",
        96_000,
        2,
        "standardDSv3Family",
    ), // 3
    vm(
        "Standard_D4s_v3",
        "Dv3/DSv3 Series",
        "D4 v3/D4s v3",
        192_000,
        4,
        "standardDSv3Family",
    ), // 4
    vm(
        "Standard_D8s_v3",
        "Dv3/DSv3 Series",
        "D8 v3/D8s v3",
        384_000,
        8,
        "standardDSv3Family",
    ), // 5
    vm(
        "Standard_D16s_v3",
        "Dv3/DSv3 Series",
        "D16 v3/D16s v3",
        768_000,
        16,
        "standardDSv3Family",
    ), // 6
    vm(
        "Standard_D4s_v5",
        "Dsv5 Series",
        "D4s v5",
        192_000,
        4,
        "standardDSv5Family",
    ), // 7
    vm(
        "Standard_D8s_v5",
        "Dsv5 Series",
        "D8s v5",
        384_000,
        8,
        "standardDSv5Family",
    ), // 8
    vm(
        "Standard_E4s_v5",
        "Esv5 Series",
        "E4s v5",
        252_000,
        4,
        "standardESv5Family",
    ), // 9
    vm(
        "Standard_E8s_v5",
        "Esv5 Series",
        "E8s v5",
        504_000,
        8,
        "standardESv5Family",
    ), // 10
    vm(
        "Standard_F4s_v2",
        "Fsv2 Series",
        "F4s v2",
        169_000,
        4,
        "standardFSv2Family",
    ), // 11
    vm(
        "Standard_F16s_v2",
        "Fsv2 Series",
        "F16s v2",
        677_000,
        16,
        "standardFSv2Family",
    ), // 12
    vm(
        "Standard_NC4as_T4_v3",
        "NCasT4_v3 Series",
        "NC4as T4 v3",
        526_000,
        4,
        "standardNCASv3_T4Family",
    ), // 13
    vm(
        "Standard_NC24ads_A100_v4",
        "NCads A100 v4 Series",
        "NC24ads A100 v4",
        3_673_000,
        24,
        "standardNCADSA100v4Family",
    ), // 14
    vm(
        "Standard_NC48ads_A100_v4",
        "NCads A100 v4 Series",
        "NC48ads A100 v4",
        7_346_000,
        48,
        "standardNCADSA100v4Family",
    ), // 15
    vm(
        "Standard_ND96asr_v4",
        "NDasrA100_v4 Series",
        "ND96asr A100 v4",
        27_197_000,
        96,
        "standardNDASv4_A100Family",
    ), // 16
    vm(
        "Standard_HB120rs_v3",
        "HBv3 Series",
        "HB120rs v3",
        3_600_000,
        120,
        "standardHBrsv3Family",
    ), // 17
    vm(
        "Standard_F72s_v2",
        "Fsv2 Series",
        "F72s v2",
        3_045_000,
        72,
        "standardFSv2Family",
    ), // 18
    vm(
        "Standard_NV36ads_A10_v5",
        "NVadsA10 v5 Series",
        "NV36ads A10 v5",
        3_200_000,
        36,
        "standardNVADSA10v5Family",
    ), // 19
    vm(
        "Standard_NC6s_v3",
        "NCSv3 Series",
        "NC6s v3",
        3_060_000,
        6,
        "standardNCSv3Family",
    ), // 20
    vm(
        "Standard_D64s_v5",
        "Dsv5 Series",
        "D64s v5",
        3_072_000,
        64,
        "standardDSv5Family",
    ), // 21
];

/// Ordinary sizes for small customers.
pub(crate) const VM_SMALL: &[usize] = &[0, 1, 2, 3];
/// Ordinary sizes for mid and large customers.
pub(crate) const VM_ORDINARY: &[usize] = &[3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
/// Sizes legitimate machine-learning customers run.
pub(crate) const VM_ML: &[usize] = &[13, 13, 13, 14];
/// GPU and high-core sizes that cryptojackers and fraudulent sign-ups deploy.
pub(crate) const VM_ATTACK: &[usize] = &[14, 14, 15, 16, 17, 18, 19, 20, 21];
/// Batch-friendly ordinary sizes used for month-end runs.
pub(crate) const VM_BATCH: &[usize] = &[6, 8, 12];

/// A rated meter as it appears in the usage file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meter {
    pub category: &'static str,
    pub sub: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub price_micro: i64,
    pub service: &'static str,
}

const fn meter(
    category: &'static str,
    sub: &'static str,
    name: &'static str,
    unit: &'static str,
    price_micro: i64,
    service: &'static str,
) -> Meter {
    Meter {
        category,
        sub,
        name,
        unit,
        price_micro,
        service,
    }
}

pub(crate) const M_BANDWIDTH: Meter = meter(
    "Bandwidth",
    "Rtn Preference: MGN",
    "Standard Data Transfer Out",
    "1 GB",
    87_000,
    "Microsoft.Network",
);
pub(crate) const M_DISK_P10: Meter = meter(
    "Storage",
    "Premium SSD Managed Disks",
    "P10 LRS Disk",
    "1/Month",
    19_710_000,
    "Microsoft.Compute",
);
pub(crate) const M_DISK_E10: Meter = meter(
    "Storage",
    "Standard SSD Managed Disks",
    "E10 LRS Disk",
    "1/Month",
    9_600_000,
    "Microsoft.Compute",
);
pub(crate) const M_BLOB_HOT: Meter = meter(
    "Storage",
    "Tiered Block Blob",
    "Hot LRS Data Stored",
    "1 GB/Month",
    18_400,
    "Microsoft.Storage",
);
pub(crate) const M_BLOB_WRITE: Meter = meter(
    "Storage",
    "Tiered Block Blob",
    "Hot Write Operations",
    "10K",
    55_000,
    "Microsoft.Storage",
);
pub(crate) const M_PAGE_BLOB: Meter = meter(
    "Storage",
    "Standard Page Blob",
    "LRS Data Stored",
    "1 GB/Month",
    45_000,
    "Microsoft.Storage",
);
pub(crate) const M_APP_B1: Meter = meter(
    "Azure App Service",
    "Basic Plan",
    "B1",
    "1 Hour",
    75_000,
    "Microsoft.Web",
);
pub(crate) const M_APP_S1: Meter = meter(
    "Azure App Service",
    "Standard Plan",
    "S1",
    "1 Hour",
    100_000,
    "Microsoft.Web",
);
pub(crate) const M_APP_P1V3: Meter = meter(
    "Azure App Service",
    "Premium v3 Plan",
    "P1 v3",
    "1 Hour",
    200_000,
    "Microsoft.Web",
);
pub(crate) const M_SQL_VCORE: Meter = meter(
    "SQL Database",
    "Single General Purpose",
    "vCore",
    "1 Hour",
    505_000,
    "Microsoft.Sql",
);
pub(crate) const M_SQL_S1: Meter = meter(
    "SQL Database",
    "Single Standard",
    "S1 DTUs",
    "1/Day",
    967_700,
    "Microsoft.Sql",
);
pub(crate) const M_COSMOS: Meter = meter(
    "Azure Cosmos DB",
    "Azure Cosmos DB",
    "100 RU/s",
    "100/Hour",
    8_000,
    "Microsoft.DocumentDB",
);
pub(crate) const M_ACI_CPU: Meter = meter(
    "Container Instances",
    "Standard",
    "Standard vCPU Duration",
    "1 Hour",
    40_500,
    "Microsoft.ContainerInstance",
);
pub(crate) const M_ACI_MEM: Meter = meter(
    "Container Instances",
    "Standard",
    "Standard Memory Duration",
    "1 GB Hour",
    4_450,
    "Microsoft.ContainerInstance",
);
pub(crate) const M_ACI_GPU: Meter = meter(
    "Container Instances",
    "Standard",
    "Standard V100 vGPU Duration",
    "1 Hour",
    3_060_000,
    "Microsoft.ContainerInstance",
);
pub(crate) const M_LOGS: Meter = meter(
    "Log Analytics",
    "Analytics Logs",
    "Data Ingestion",
    "1 GB",
    2_300_000,
    "Microsoft.OperationalInsights",
);
pub(crate) const M_KV: Meter = meter(
    "Key Vault",
    "Standard",
    "Operations",
    "10K",
    30_000,
    "Microsoft.KeyVault",
);

/// Which billing family a VM-hours meter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VmBilling {
    VirtualMachines,
    MachineLearning,
    Batch,
}

/// The hourly meter of a VM size, billed as plain VMs, Azure Machine Learning compute or Batch nodes.
pub(crate) fn vm_meter(size: &'static VmSize, billing: VmBilling) -> Meter {
    let (category, service) = match billing {
        VmBilling::VirtualMachines => ("Virtual Machines", "Microsoft.Compute"),
        VmBilling::MachineLearning => (
            "Azure Machine Learning",
            "Microsoft.MachineLearningServices",
        ),
        VmBilling::Batch => ("Batch", "Microsoft.Batch"),
    };
    meter(
        category,
        size.series,
        size.meter,
        "1 Hour",
        size.price_micro,
        service,
    )
}

/// Microsoft first-party applications seen in sign-in logs.
pub(crate) struct App {
    pub id: &'static str,
    pub name: &'static str,
}

pub(crate) const APP_PORTAL: usize = 0;
pub(crate) const APP_EXCHANGE: usize = 1;
pub(crate) const APP_TEAMS: usize = 2;
pub(crate) const APP_OFFICE_HOME: usize = 3;
pub(crate) const APP_OFFICE: usize = 4;
pub(crate) const APP_SHAREPOINT: usize = 5;
pub(crate) const APP_CLI: usize = 6;
pub(crate) const APP_POWERSHELL: usize = 7;

pub(crate) const APPS: &[App] = &[
    App {
        id: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        name: "Azure Portal",
    },
    App {
        id: "00000002-0000-0ff1-ce00-000000000000",
        name: "Office 365 Exchange Online",
    },
    App {
        id: "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
        name: "Microsoft Teams",
    },
    App {
        id: "4765445b-32c6-49b0-83e6-1d93765276ca",
        name: "OfficeHome",
    },
    App {
        id: "d3590ed6-52b3-4102-aeff-aad2292ab01c",
        name: "Microsoft Office",
    },
    App {
        id: "00000003-0000-0ff1-ce00-000000000000",
        name: "Office 365 SharePoint Online",
    },
    App {
        id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        name: "Microsoft Azure CLI",
    },
    App {
        id: "1950a258-227b-4e31-a9cf-717495945fc2",
        name: "Microsoft Azure PowerShell",
    },
];

/// (operatingSystem, browser) pairs of ordinary users' devices.
pub(crate) const DEVICES: &[(&str, &str)] = &[
    ("Windows10", "Edge 130.0.2849"),
    ("Windows10", "Chrome 131.0.0"),
    ("Windows10", "Edge 131.0.2903"),
    ("MacOs", "Safari 17.6"),
    ("MacOs", "Chrome 131.0.0"),
    ("Ios", "Mobile Safari 17.6"),
    ("Android", "Chrome Mobile 131.0.0"),
];

/// Devices attackers use.
pub(crate) const ATTACK_DEVICES: &[(&str, &str)] = &[
    ("Linux", "Firefox 131.0"),
    ("Windows10", "Chrome 128.0.0"),
    ("Linux", "Chrome 131.0.0"),
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "James", "Maria", "Wei", "Aisha", "Lukas", "Sofia", "Rahul", "Emma", "Kenji", "Fatima",
    "Oliver", "Chloe", "Mateo", "Ingrid", "Daniel", "Priya", "Noah", "Hannah", "Carlos", "Yuki",
    "Liam", "Ava", "Ahmed", "Julia", "Pieter", "Elena", "Tom", "Nina", "Marco", "Sarah",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith", "Garcia", "Chen", "Khan", "Muller", "Rossi", "Patel", "Johnson", "Tanaka", "Haddad",
    "Brown", "Martin", "Silva", "Larsen", "Nowak", "Sharma", "Wilson", "Schmidt", "Lopez", "Sato",
    "Taylor", "Dubois", "Novak", "Jansen", "Fischer", "Costa", "Walker", "Moreau", "Kowalski",
    "Evans",
];

pub(crate) const COMPANY_FIRST: &[&str] = &[
    "Alpine",
    "Blue Harbor",
    "Cedar",
    "Northwind",
    "Summit",
    "Riverbend",
    "Ironwood",
    "Brightline",
    "Copperleaf",
    "Falcon",
    "Granite",
    "Harbor Point",
    "Lakeside",
    "Maple",
    "Meridian",
    "Oakridge",
    "Pinnacle",
    "Quantum",
    "Redstone",
    "Silverline",
    "Starlight",
    "Trident",
    "Vantage",
    "Westfield",
    "Zenith",
    "Aurora",
    "Beacon",
    "Crescent",
    "Evergreen",
    "Frontier",
    "Horizon",
    "Keystone",
    "Lighthouse",
    "Northstar",
    "Orchid",
    "Pioneer",
    "Sapphire",
    "Sterling",
    "Tidewater",
    "Willow",
];

pub(crate) const COMPANY_SECOND: &[&str] = &[
    "Logistics",
    "Analytics",
    "Dental",
    "Manufacturing",
    "Legal",
    "Consulting",
    "Software",
    "Retail",
    "Foods",
    "Engineering",
    "Health",
    "Media",
    "Architects",
    "Travel",
    "Energy",
    "Robotics",
    "Labs",
    "Finance",
    "Design",
    "Systems",
    "Studios",
    "Motors",
    "Pharma",
    "Realty",
    "Education",
];

pub(crate) const RESELLER_NAMES: &[&str] = &[
    "Northwind IT Services",
    "Tailspin Cloud Solutions",
    "Adatum Systems",
    "Litware Partners",
    "Proseware MSP",
    "Woodgrove Technology",
];

/// Public addresses of well-known mining pools, as Microsoft's alerts report them.
pub(crate) const MINING_POOL_IPS: &[&str] = &[
    "104.243.33.118",
    "51.195.4.132",
    "141.94.96.144",
    "94.130.164.163",
    "162.19.139.184",
    "37.187.95.110",
];

/// Azure built-in role definition IDs.
pub(crate) const ROLE_OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub(crate) const ROLE_CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
