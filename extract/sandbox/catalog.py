"""Static reference data of the sandbox tenant: ids, selector lists, labels, names.

Ids follow docs/contract.md section 2; selector entries carry the canonical
spelling of every label (section 3), unmapped labels included.
"""

from __future__ import annotations

from typing import Any

# Modules listed through views (`{module}/filters`, `{module}/view/{id}`).
ENTITIES = ("sales_accounts", "contacts", "deals", "leads")
# Modules listed directly (`GET tasks?filter=...`), with the filters each accepts.
LISTS = ("tasks", "appointments", "sales_activities")
LIST_FILTERS: dict[str, tuple[str, ...]] = {
    "tasks": ("open", "completed", "overdue", "due_today"),
    "appointments": ("past", "upcoming"),
    "sales_activities": (),
}
GENERATED = ENTITIES + LISTS
SINGULAR = {"sales_accounts": "sales_account", "contacts": "contact", "deals": "deal",
            "leads": "lead", "tasks": "task", "appointments": "appointment",
            "sales_activities": "sales_activity"}
MODEL_CLASS = {"sales_accounts": "SalesAccount", "contacts": "Contact", "deals": "Deal",
               "leads": "Lead"}
ID_BASE = {"sales_accounts": 16_000_000_001, "contacts": 17_000_000_001,
           "deals": 18_000_000_001, "leads": 21_000_000_001, "tasks": 22_000_000_001,
           "appointments": 23_000_000_001, "sales_activities": 24_000_000_001}
# Targets of tasks, appointments and activities (`targetable_type`), and ids of records
# that never existed (dirt `orphan`): outside every generated range.
TARGETABLE = {"deals": "Deal", "contacts": "Contact", "sales_accounts": "SalesAccount"}
ORPHAN_TARGET_BASE = {"deals": 18_900_000_000, "contacts": 17_900_000_000,
                      "sales_accounts": 16_900_000_000}

# Business keys (contract section 2).
ACCOUNT_KEY_BASE = 1001
DEAL_KEY_BASE = 100001
# Accounts that never existed (dirt `orphan`): ids and keys outside every generated range.
ORPHAN_ACCOUNT_ID_BASE = 16_900_000_000
ORPHAN_ACCOUNT_KEY_BASE = 90_000_000


def contact_key(index: int) -> str:
    return f"C-{index + 1:07d}"


# --- owners (the API key belongs to the first one: "My ..." views) -------------------
_USER_NAMES = [
    ("Ann Becker", "ann.becker"),
    ("José Álvarez", "jose.alvarez"),
    ("Zoë Laurent", "zoe.laurent"),
    ("Łukasz Nowak", "lukasz.nowak"),
    ("王芳", "wang.fang"),
    ("Priya Raman", "priya.raman"),
    ("Søren Dahl", "soren.dahl"),
    ("Marcus Müller", "marcus.mueller"),
]
TEAMS: list[dict[str, Any]] = [
    {"id": 15_500_000_001 + i, "name": name, "position": i + 1}
    for i, name in enumerate(["Inside Sales", "Field Sales", "Partner Sales"])
]
USERS: list[dict[str, Any]] = [
    {
        "id": 15_000_000_001 + i,
        "display_name": name,
        "email": f"{login}@sandbox-crm.example",
        "is_active": i != 6,
        "work_number": f"+1 415 555 01{i:02d}",
        "mobile_number": None,
        # The last user belongs to no team.
        "team_id": None if i == len(_USER_NAMES) - 1 else TEAMS[i % len(TEAMS)]["id"],
    }
    for i, (name, login) in enumerate(_USER_NAMES)
]
ME = USERS[0]["id"]

# --- labels (contract section 3) -------------------------------------------------------
REGIONS = ["North America", "Europe", "Asia"]
REGIONS_UNMAPPED = ["EMEA", "LATAM", "Oceania"]
REGION_NOISE = {
    "North America": ["north america ", "  North America", "NORTH AMERICA", "NA", "N. America",
                      "north-america"],
    "Europe": [" europe", "EUROPE", "Europe  ", "EU", "eu"],
    "Asia": ["asia ", "ASIA", "APAC", "Asia Pacific", "asia-pacific", "Asia  Pacific"],
}
LEAD_SOURCES = ["Website", "Referral", "Email Campaign"]
LEAD_SOURCES_UNMAPPED = ["Trade Show", "Cold Call", "Partner"]
LEAD_SOURCE_NOISE = {
    "Website": ["web site", "Web", " website", "WEBSITE", "web-site"],
    "Referral": ["Referrals", "referral ", "Referral Program", "REFERRAL"],
    "Email Campaign": ["email", "E-mail Campaign", "email  campaign", "Email-Campaign",
                       " EMAIL CAMPAIGN"],
}
STAGES = ["Prospecting", "Negotiation", "Closed-Won", "Closed-Lost"]
STAGES_UNMAPPED = ["On Hold", "Qualification", "Demo Scheduled"]
STAGE_NOISE = {
    "Prospecting": ["prospecting ", "Prospect", "PROSPECTING", " prospecting"],
    "Negotiation": ["Negotiating", "negotiation", " NEGOTIATION ", "Negotiation  "],
    "Closed-Won": ["Closed Won", "closed won", "Won", "closed-won", "CLOSED-WON"],
    "Closed-Lost": ["Closed Lost", "closed lost", "Lost", "closed-lost ", "CLOSED-LOST"],
}
FORECAST = {"Prospecting": "Open", "Negotiation": "Open", "Closed-Won": "Won",
            "Closed-Lost": "Lost"}
STAGE_PROBABILITY = {"Prospecting": 20, "Negotiation": 60, "Closed-Won": 100,
                     "Closed-Lost": 0, "On Hold": 10, "Qualification": 30,
                     "Demo Scheduled": 40}
# Cumulative per-mille thresholds of the canonical stages among deals.
STAGE_CUTS = [(380, "Prospecting"), (640, "Negotiation"), (860, "Closed-Won"),
              (1000, "Closed-Lost")]

INDUSTRIES = ["Technology", "Retail", "Finance", "Healthcare", "Manufacturing", "Education",
              "Energy", "Media", "Logistics", "Hospitality"]

# --- selector lists ----------------------------------------------------------------------
_STAMP = "2021-06-14T09:12:44-06:00"


def _named(base: int, names: list[str]) -> list[dict[str, Any]]:
    return [{"id": base + i, "name": n, "position": i + 1, "updated_at": _STAMP}
            for i, n in enumerate(names)]


PIPELINE_ID = 14_200_000_001
DEAL_STAGES: list[dict[str, Any]] = [
    {"id": 14_100_000_001 + i, "name": name, "position": i + 1,
     "forecast_type": FORECAST.get(name, "Open"), "deal_pipeline_id": PIPELINE_ID,
     "choice_type": 1 if FORECAST.get(name, "Open") == "Open" else 2,
     "probability": STAGE_PROBABILITY[name], "updated_at": _STAMP}
    for i, name in enumerate(STAGES + STAGES_UNMAPPED)
]
DEAL_PIPELINES: list[dict[str, Any]] = [
    {"id": PIPELINE_ID, "name": "Sales Pipeline", "position": 1, "is_default": True,
     "rotting_days": 30, "updated_at": _STAMP, "deal_stages": DEAL_STAGES},
]
TERRITORIES = _named(14_300_000_001, REGIONS + REGIONS_UNMAPPED)
INDUSTRY_TYPES = _named(14_400_000_001, INDUSTRIES)
LEAD_SOURCE_ITEMS = _named(14_500_000_001, LEAD_SOURCES + LEAD_SOURCES_UNMAPPED)
BUSINESS_TYPES = _named(14_600_000_001, ["Customer", "Partner", "Prospect", "Vendor"])
DEAL_REASONS = _named(14_700_000_001, ["Price", "Competitor", "No budget", "Timing",
                                       "No decision"])
DEAL_TYPES = _named(14_800_000_001, ["New Business", "Renewal", "Upsell"])
DEAL_PAYMENT_STATUSES = _named(13_400_000_001, ["Pending", "Paid", "Overdue"])
CAMPAIGNS = _named(13_300_000_001, ["Spring Launch", "Partner Webinar", "Year-end Promo"])
CONTACT_STATUSES = _named(13_100_000_001, ["New", "Contacted", "Interested", "Customer"])
LIFECYCLE_STAGES = _named(13_200_000_001, ["Lead", "Sales Qualified Lead", "Customer"])
# exchange_rate: units of the currency per unit of the base currency (USD), so a
# deal's base_currency_amount = round(amount / exchange_rate, 2).
CURRENCIES: list[dict[str, Any]] = [
    {"id": 14_900_000_001 + i, "currency_code": code, "exchange_rate": rate,
     "is_active": True, "currency_type": 1 if i == 0 else 2, "schedule_info": None}
    for i, (code, rate) in enumerate([("USD", "1.0"), ("EUR", "0.92"), ("GBP", "0.79"),
                                      ("INR", "83.12")])
]
USD = CURRENCIES[0]["id"]
FOREIGN_CURRENCIES = [item["id"] for item in CURRENCIES[1:]]
RATE = {item["id"]: item["exchange_rate"] for item in CURRENCIES}
# A currency the tenant no longer lists (dirt `unknown_currency`): no usable rate.
UNKNOWN_CURRENCY_ID = 14_900_000_099

SALES_ACTIVITY_TYPES = _named(13_500_000_001, ["Call", "Email", "Meeting", "Chat", "Demo"])
SALES_ACTIVITY_OUTCOMES: list[dict[str, Any]] = [
    {"id": 13_600_000_001 + i, "name": name, "position": i + 1,
     "sales_activity_type_id": type_id, "updated_at": _STAMP}
    for i, (name, type_id) in enumerate([
        ("Interested", None), ("Not interested", None), ("Meeting booked", None),
        ("Left voicemail", SALES_ACTIVITY_TYPES[0]["id"]),
        ("No answer", SALES_ACTIVITY_TYPES[0]["id"])])
]
TASK_TYPES = _named(13_700_000_001, ["Call", "Email", "Follow-up", "Demo", "Proposal"])
LEAD_STAGES = _named(13_800_000_001, ["New", "Contacted", "Qualified", "Unqualified"])
TASK_TITLES = ["Call back", "Send the proposal", "Follow up on the quote", "Book a demo",
               "Send the contract", "Check the renewal date", "Introduce the new owner",
               "Prepare the QBR deck", "Confirm the budget", "Share the case study"]
APPOINTMENT_TITLES = ["Discovery call", "Product demo", "Quarterly review", "Pricing talk",
                      "Onboarding kick-off", "Contract signing", "Lunch meeting",
                      "Technical deep dive"]
ACTIVITY_TITLES = ["Intro call", "Follow-up email", "On-site meeting", "Chat about pricing",
                   "Demo of the new release", "Renewal check-in", "Reference call",
                   "Negotiation call", "Cold outreach", "Support escalation"]
MEETING_PLACES = ["Zoom", "Google Meet", "Customer office", "Our office", "Phone",
                  "Café Central", "Microsoft Teams"]

SELECTORS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "owners": ("users", USERS),
    "deal_stages": ("deal_stages", DEAL_STAGES),
    "deal_pipelines": ("deal_pipelines", DEAL_PIPELINES),
    "territories": ("territories", TERRITORIES),
    "industry_types": ("industry_types", INDUSTRY_TYPES),
    "lead_sources": ("lead_sources", LEAD_SOURCE_ITEMS),
    "business_types": ("business_types", BUSINESS_TYPES),
    "deal_reasons": ("deal_reasons", DEAL_REASONS),
    "deal_types": ("deal_types", DEAL_TYPES),
    "deal_payment_statuses": ("deal_payment_statuses", DEAL_PAYMENT_STATUSES),
    "campaigns": ("campaigns", CAMPAIGNS),
    "contact_statuses": ("contact_statuses", CONTACT_STATUSES),
    "lifecycle_stages": ("lifecycle_stages", LIFECYCLE_STAGES),
    "currencies": ("currencies", CURRENCIES),
    "teams": ("teams", TEAMS),
    "sales_activity_types": ("sales_activity_types", SALES_ACTIVITY_TYPES),
    "sales_activity_outcomes": ("sales_activity_outcomes", SALES_ACTIVITY_OUTCOMES),
    "task_types": ("task_types", TASK_TYPES),
    "lead_stages": ("lead_stages", LEAD_STAGES),
}


def by_name(items: list[dict[str, Any]]) -> dict[str, int]:
    return {item["name"]: item["id"] for item in items}


STAGE_ID = by_name(DEAL_STAGES)
TERRITORY_ID = by_name(TERRITORIES)
INDUSTRY_ID = by_name(INDUSTRY_TYPES)
LEAD_SOURCE_ID = by_name(LEAD_SOURCE_ITEMS)
STAGE_BY_ID = {s["id"]: s for s in DEAL_STAGES}
# Which selector list a `*_id` field must point into (PUT/POST validation).
ID_FIELDS: dict[str, set[int]] = {
    "owner_id": {u["id"] for u in USERS},
    "deal_stage_id": set(STAGE_BY_ID),
    "deal_pipeline_id": {PIPELINE_ID},
    "territory_id": {t["id"] for t in TERRITORIES},
    "industry_type_id": {t["id"] for t in INDUSTRY_TYPES},
    "lead_source_id": {t["id"] for t in LEAD_SOURCE_ITEMS},
    "business_type_id": {t["id"] for t in BUSINESS_TYPES},
    "deal_reason_id": {t["id"] for t in DEAL_REASONS},
    "deal_type_id": {t["id"] for t in DEAL_TYPES},
    "currency_id": {c["id"] for c in CURRENCIES},
    "campaign_id": {c["id"] for c in CAMPAIGNS},
    "contact_status_id": {c["id"] for c in CONTACT_STATUSES},
    "lifecycle_stage_id": {c["id"] for c in LIFECYCLE_STAGES},
    "deal_payment_status_id": {c["id"] for c in DEAL_PAYMENT_STATUSES},
    "lead_stage_id": {c["id"] for c in LEAD_STAGES},
}

# --- views ---------------------------------------------------------------------------------
# (key, default name, view id) per module; the key names the membership rule.
VIEW_DEFAULTS: dict[str, list[tuple[str, str, int]]] = {
    "sales_accounts": [("all", "All Accounts", 201_000_000_101),
                       ("mine", "My Accounts", 201_000_000_102),
                       ("deleted", "Recycle Bin", 201_000_000_103)],
    "contacts": [("all", "All Contacts", 202_000_000_201),
                 ("mine", "My Contacts", 202_000_000_202),
                 ("deleted", "Recycle Bin", 202_000_000_203)],
    "deals": [("all", "All Deals", 203_000_000_301),
              ("open", "Open Deals", 203_000_000_302),
              ("won", "Won Deals", 203_000_000_303),
              ("lost", "Lost Deals", 203_000_000_304),
              ("mine", "My Deals", 203_000_000_305),
              ("deleted", "Recycle Bin", 203_000_000_306)],
    "leads": [("all", "All Leads", 204_000_000_401),
              ("mine", "My Leads", 204_000_000_402),
              ("deleted", "Recycle Bin", 204_000_000_403)],
}

# --- names -----------------------------------------------------------------------------------
FIRST_NAMES = [
    ("José", "jose"), ("Zoë", "zoe"), ("Łukasz", "lukasz"), ("Anna", "anna"),
    ("Mohammed", "mohammed"), ("Chloé", "chloe"), ("Björn", "bjorn"), ("Aiko", "aiko"),
    ("Olivia", "olivia"), ("Liam", "liam"), ("Mateo", "mateo"), ("Fatima", "fatima"),
    ("Noah", "noah"), ("Sofía", "sofia"), ("Emma", "emma"), ("Raj", "raj"),
    ("Wei", "wei"), ("Hannah", "hannah"), ("Lucas", "lucas"), ("Ingrid", "ingrid"),
    ("Amélie", "amelie"), ("Yusuf", "yusuf"), ("Grace", "grace"), ("Dmitri", "dmitri"),
    ("伟", "wei"), ("Siobhán", "siobhan"), ("Kenji", "kenji"), ("Ava", "ava"),
]
LAST_NAMES = [
    ("Müller", "mueller"), ("García", "garcia"), ("Smith", "smith"), ("Nowak", "nowak"),
    ("Kowalski", "kowalski"), ("王", "wang"), ("Tanaka", "tanaka"), ("O'Brien", "obrien"),
    ("Johnson", "johnson"), ("Dubois", "dubois"), ("Rossi", "rossi"), ("Patel", "patel"),
    ("Nguyen", "nguyen"), ("Silva", "silva"), ("Andersson", "andersson"), ("Brown", "brown"),
    ("Schröder", "schroeder"), ("Yılmaz", "yilmaz"), ("Kim", "kim"), ("Lefèvre", "lefevre"),
    ("Ivanova", "ivanova"), ("Okafor", "okafor"), ("Jensen", "jensen"), ("Sato", "sato"),
]
JOB_TITLES = ["CEO", "CTO", "VP Sales", "Head of Procurement", "Operations Manager",
              "Finance Director", "IT Manager", "Purchasing Lead", "Marketing Manager",
              "Software Engineer", "Account Executive", "Office Manager"]
COMPANY_HEADS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Nordwind",
                 "Müller & Söhne", "Sakura", "Zhongshan", "Orbital", "Bluebird", "Pinecrest",
                 "Helios", "Quantum", "Évora", "Kraków Data", "Tidewater", "Summit", "Ironwood",
                 "Lumen", "Redwood", "Atlas", "Brightline", "Cobalt", "Northstar", "Osaka Trading",
                 "Verde", "Falcon", "Meridian"]
COMPANY_TAILS = ["Inc.", "GmbH", "Ltd", "S.A.", "Holdings", "Systems", "Labs", "Group", "AG",
                 "K.K.", "Sp. z o.o.", "Partners", "Corp."]
DEAL_PRODUCTS = ["Gold plan", "Silver plan", "Platinum plan", "Annual renewal", "Expansion",
                 "Pilot", "Support contract", "Onboarding package", "Enterprise licence",
                 "Data add-on"]
# (city, state, country, zipcode) per region label.
PLACES: dict[str, list[tuple[str, str, str, str]]] = {
    "North America": [("Austin", "TX", "United States", "78701"),
                      ("Chicago", "IL", "United States", "60601"),
                      ("Toronto", "ON", "Canada", "M5H 2N2"),
                      ("Montréal", "QC", "Canada", "H2Y 1C6")],
    "Europe": [("München", "BY", "Germany", "80331"), ("Łódź", "", "Poland", "90-001"),
               ("Lyon", "", "France", "69001"), ("Dublin", "", "Ireland", "D02 X285")],
    "Asia": [("Bengaluru", "KA", "India", "560001"), ("Tokyo", "", "Japan", "100-0001"),
             ("Singapore", "", "Singapore", "018956"), ("上海", "", "China", "200000")],
    "EMEA": [("Dubai", "", "United Arab Emirates", "00000")],
    "LATAM": [("São Paulo", "SP", "Brazil", "01000-000")],
    "Oceania": [("Sydney", "NSW", "Australia", "2000")],
}
# UTC offsets in minutes, and how they are written.
OFFSETS = [-360, 330, 540, 60, -300, 0, -480, 120]
