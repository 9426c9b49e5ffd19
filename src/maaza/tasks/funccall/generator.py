"""Synthetic function-calling training rows (BFCL-compatible), made by construction, never from BFCL.

Why: a 135M model learns to pick a function and copy argument values from the request; it needs many rows
over many APIs, and the labels must be right. Here every row is built forwards: choose functions from a
catalogue of hand-written domains (weather, finance, travel, ... over 40 of them), sample typed argument
values (Faker names, cities, companies; numbers; enums; lists), then render a request that states every
value in a copyable form (numbers as digits, strings verbatim). The answer (`calls`) and BFCL's possible-answer
form (`ground_truth`) are the sampled arguments themselves, so they are right by construction.

Nothing here reads BFCL: its functions, names and questions are not used. `bfcl_overlap` is the leak guard
that measures exact and near-duplicate question matches and function-name matches against BFCL files.

Categories follow BFCL: `simple` (1 function, 1 call), `multiple` (2-4 functions, 1 call), `parallel` (1
function, 2-3 calls), `parallel_multiple` (2-4 functions, 2-3 calls to 2+ of them), `irrelevance` (1-3
functions, none fits; answer `[]`, ground truth null).

CLI: `python -m maaza.tasks.funccall.generator --n 4000 --seed 0 --out runs/funccall/train.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.io import write_jsonl

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
DEFAULT_MIX: dict[str, float] = {
    "simple": 0.30,
    "multiple": 0.25,
    "parallel": 0.15,
    "parallel_multiple": 0.15,
    "irrelevance": 0.15,
}

# ------------------------------------------------------------------------------------------ value pools
# Hand-written pools (Faker adds person names, companies, streets, fictional towns, e-mails).

_POOLS: dict[str, tuple[str, ...]] = {
    "city": ("Lisbon", "Nairobi", "Osaka", "Denver", "Krakow", "Lima", "Hanoi", "Tallinn", "Perth", "Quito",
             "Seville", "Bergen", "Accra", "Montreal", "Valparaiso", "Tbilisi", "Izmir", "Bilbao", "Gdansk",
             "Cebu", "Porto", "Adelaide", "Leipzig", "Tucson", "Halifax", "Kyoto", "Curitiba", "Ljubljana",
             "Marrakesh", "Reykjavik", "Lyon", "Cork", "Austin", "Turin", "Busan", "Medellin", "Zagreb"),
    "country": ("Portugal", "Kenya", "Japan", "Chile", "Norway", "Vietnam", "Estonia", "Ghana", "Peru", "Morocco",
                "Iceland", "Croatia", "Uruguay", "Finland", "Jordan", "Nepal", "Canada", "Slovenia", "Mexico",
                "Georgia", "Ireland", "Austria", "Colombia", "Namibia", "Thailand"),
    "airport": ("LIS", "NBO", "KIX", "DEN", "KRK", "LIM", "HAN", "TLL", "PER", "UIO", "SVQ", "BGO", "ACC",
                "YUL", "TBS", "ADB", "BIO", "GDN", "OPO", "ADL", "LEJ", "TUS", "YHZ", "CWB", "LJU", "RAK", "KEF"),
    "currency": ("EUR", "USD", "GBP", "JPY", "CHF", "CAD", "AUD", "NOK", "SEK", "MXN", "INR", "BRL", "ZAR", "PLN"),
    "ticker": ("NVTA", "QRVO", "ZBRA", "DOCU", "ETSY", "TEAM", "OKTA", "PINS", "ROKU", "SNAP", "TWLO", "FSLR",
               "ENPH", "CRWD", "DDOG", "NET", "MDB", "ZS", "HUBS", "PAYC"),
    "crypto": ("BTC", "ETH", "SOL", "ADA", "DOT", "XRP", "AVAX", "LINK", "ATOM", "LTC", "ALGO", "XLM"),
    "language": ("French", "German", "Spanish", "Japanese", "Portuguese", "Italian", "Korean", "Dutch", "Polish",
                 "Turkish", "Swedish", "Greek", "Czech", "Hindi", "Vietnamese", "Finnish"),
    "dish": ("mushroom risotto", "lentil soup", "chicken tikka masala", "shrimp tacos", "vegetable lasagna",
             "beef stroganoff", "pad see ew", "falafel wraps", "banana bread", "shakshuka", "miso ramen",
             "spinach quiche", "pumpkin curry", "fish chowder", "apple crumble", "chili con carne"),
    "ingredient": ("chickpeas", "basil", "salmon", "tofu", "quinoa", "zucchini", "feta", "lemongrass", "oats",
                   "cashews", "spinach", "eggplant", "paprika", "coconut milk", "leeks", "ginger"),
    "cuisine": ("Thai", "Ethiopian", "Peruvian", "Lebanese", "Korean", "Georgian", "Basque", "Sichuan",
                "Vietnamese", "Greek", "Mexican", "Turkish"),
    "genre": ("jazz", "synthpop", "bossa nova", "bluegrass", "drum and bass", "afrobeat", "shoegaze", "reggae",
              "lo-fi hip hop", "baroque", "post-rock", "flamenco"),
    "instrument": ("cello", "ukulele", "trumpet", "oboe", "banjo", "harp", "marimba", "clarinet", "sitar",
                   "accordion", "double bass", "bassoon"),
    "element": ("sodium", "argon", "cobalt", "titanium", "boron", "zinc", "krypton", "lithium", "iodine",
                "nickel", "tungsten", "gallium", "bismuth", "selenium"),
    "compound": ("C6H12O6", "NaHCO3", "H2SO4", "CaCO3", "NH3", "C2H5OH", "KMnO4", "CH4", "Fe2O3", "MgSO4",
                 "C8H10N4O2", "HNO3"),
    "planet": ("Mercury", "Venus", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"),
    "star": ("Vega", "Rigel", "Altair", "Deneb", "Arcturus", "Capella", "Aldebaran", "Spica", "Antares",
             "Procyon", "Polaris", "Canopus"),
    "mascot": ("Falcons", "Otters", "Comets", "Wolves", "Pilots", "Hornets", "Rovers", "Mariners", "Titans",
               "Lynx", "Storm", "Foxes", "Rangers", "Kestrels"),
    "sport": ("basketball", "volleyball", "handball", "cricket", "rugby", "ice hockey", "water polo", "futsal",
              "badminton", "lacrosse"),
    "adjective": ("Silent", "Golden", "Electric", "Velvet", "Hidden", "Paper", "Crimson", "Northern", "Glass",
                  "Wild", "Midnight", "Broken", "Neon", "Distant", "Lucky", "Quiet"),
    "noun": ("River", "Garden", "Engine", "Harbor", "Lantern", "Orchard", "Signal", "Mirror", "Compass",
             "Meadow", "Canyon", "Echo", "Ember", "Horizon", "Tide", "Atlas"),
    "product": ("wireless earbuds", "standing desk", "espresso grinder", "trail running shoes", "mechanical keyboard",
                "yoga mat", "air purifier", "camping stove", "smart watch", "rice cooker", "backpack",
                "desk lamp", "electric kettle", "noise cancelling headphones", "cast iron skillet"),
    "device": ("kitchen speaker", "porch camera", "garage heater", "office fan", "patio heater", "robot vacuum",
               "coffee machine", "dishwasher", "nursery monitor", "hallway dehumidifier"),
    "room": ("kitchen", "living room", "bedroom", "office", "basement", "garage", "bathroom", "hallway"),
    "table": ("customers", "orders", "invoices", "shipments", "employees", "sensor_readings", "products",
              "payments", "sessions", "audit_log", "subscriptions", "inventory"),
    "column": ("created_at", "status", "region", "total_amount", "email", "last_login", "country_code",
               "unit_price", "priority", "updated_at", "category", "score"),
    "file": ("reports/q3_sales.csv", "notes/meeting.txt", "img/logo.png", "data/export.json", "docs/plan.pdf",
             "backup/db.sql", "slides/pitch.pptx", "logs/app.log", "music/demo.mp3", "src/main.py"),
    "host": ("web-01", "db-primary", "cache-02", "api-gateway", "worker-07", "build-agent-3", "edge-eu-1",
             "metrics-01", "queue-02", "auth-svc"),
    "sentence": ("Where is the nearest train station?", "The meeting starts at nine.", "Thank you for your help.",
                 "Please close the window.", "How much does this cost?", "My flight was delayed.",
                 "The museum opens tomorrow.", "I would like a table for two.", "Is breakfast included?",
                 "We are out of coffee."),
    "word": ("serendipity", "ephemeral", "ubiquitous", "candid", "resilient", "meticulous", "vivid", "frugal",
             "tenacious", "whimsical", "lucid", "arbitrary"),
    "color": ("teal", "maroon", "amber", "navy", "coral", "olive", "lavender", "crimson", "ivory", "turquoise"),
    "symptom": ("headache", "sore throat", "back pain", "fatigue", "dry cough", "dizziness", "nausea", "insomnia"),
    "medication": ("ibuprofen", "amoxicillin", "loratadine", "metformin", "omeprazole", "cetirizine", "naproxen"),
    "exercise": ("squats", "push-ups", "lunges", "deadlifts", "burpees", "plank holds", "pull-ups", "rowing"),
    "activity": ("cycling", "swimming", "running", "hiking", "rowing", "dancing", "tennis", "yoga"),
    "crop": ("wheat", "barley", "soybeans", "maize", "sunflowers", "potatoes", "rice", "lentils", "canola"),
    "plant": ("basil", "tomatoes", "lavender", "ferns", "succulents", "roses", "hydrangeas", "mint", "orchids"),
    "breed": ("beagle", "border collie", "maine coon", "dachshund", "siamese", "labrador", "greyhound", "corgi"),
    "car": ("Corolla", "Civic", "Model 3", "Golf", "Outback", "Mazda3", "Ioniq 5", "Leaf", "Kona", "Octavia"),
    "topic": ("renewable energy", "space exploration", "urban farming", "electric vehicles", "cybersecurity",
              "climate policy", "public transport", "sleep science", "ocean plastics", "remote work"),
    "subject": ("algebra", "chemistry", "world history", "biology", "economics", "statistics", "geography",
                "literature", "physics", "computer science"),
    "amenity": ("pool", "gym", "parking", "spa", "free wifi", "pet friendly", "airport shuttle", "breakfast"),
    "skill": ("Python", "negotiation", "SQL", "project management", "data analysis", "copywriting", "Kubernetes",
              "public speaking", "UX research", "accounting"),
    "department": ("Engineering", "Marketing", "Finance", "Sales", "Support", "Legal", "Operations", "Design"),
    "hashtag": ("#morningrun", "#foodie", "#techtalk", "#travelgram", "#bookclub", "#gardenlife", "#devlife"),
    "query": ("budget laptops", "vegan snacks", "hiking boots", "board games for kids", "bluetooth speakers",
              "coffee beans", "office chairs", "winter jackets", "phone cases", "water bottles"),
    "unit_len": ("meters", "feet", "kilometers", "miles", "inches", "centimeters", "yards"),
    "unit_mass": ("kilograms", "pounds", "grams", "ounces", "stones"),
    "timezone": ("Europe/Lisbon", "Asia/Tokyo", "America/Denver", "Africa/Nairobi", "Australia/Perth",
                 "America/Lima", "Europe/Oslo", "Asia/Kolkata", "Pacific/Auckland", "America/Halifax"),
    "license": ("MIT", "Apache-2.0", "GPL-3.0", "BSD-3-Clause", "MPL-2.0"),
    "constellation": ("Orion", "Cassiopeia", "Lyra", "Cygnus", "Perseus", "Andromeda", "Scorpius", "Draco"),
    "board": ("Roadmap", "Sprint 14", "Website Relaunch", "Mobile App", "Onboarding", "Q4 Planning", "Data Platform"),
}

_MONTHS = ("2024", "2025", "2026")


class _Values:
    """Samples argument values of every kind, from the pools above and Faker (seeded)."""

    def __init__(self, rng: random.Random) -> None:
        from faker import Faker  # imported here: Faker is slow to import and only the generator needs it

        fake = Faker("en_US")
        fake.seed_instance(rng.getrandbits(32))
        self.rng = rng
        clean = re.compile(r"^[A-Za-z][A-Za-z .'-]*[A-Za-z]$")

        def pool(make: Any, size: int) -> tuple[str, ...]:
            out = {v for v in (make() for _ in range(size * 2)) if clean.match(v) and " and " not in v}
            return tuple(sorted(out))[:size]

        self.people = pool(lambda: f"{fake.first_name()} {fake.last_name()}", 300)
        self.first = pool(fake.first_name, 200)
        self.last = pool(fake.last_name, 200)
        self.companies = pool(lambda: fake.company().replace(",", ""), 200)
        self.towns = pool(fake.city, 120)
        self.streets = tuple(f"{fake.building_number()} {fake.street_name()}" for _ in range(150))
        self.zips = tuple(fake.postcode() for _ in range(100))
        self.users = tuple(fake.user_name() for _ in range(150))
        self.emails = tuple(f"{u}@{fake.free_email_domain()}" for u in self.users[:100])
        self.jobs = pool(lambda: fake.job().split(",")[0].split("(")[0].strip(), 120)
        self.domains = tuple(fake.domain_name() for _ in range(60))

    def sample(self, gen: str) -> Any:
        """A value of the kind `gen` (see `_param_type` for the kinds)."""
        r = self.rng
        kind, _, rest = gen.partition(":")
        if kind == "int":
            lo, hi = (int(x) for x in rest.split(":"))
            return r.randint(lo, hi)
        if kind == "float":
            lo_s, hi_s, dec_s = rest.split(":")
            value = round(r.uniform(float(lo_s), float(hi_s)), int(dec_s))
            if value == int(value):  # keep a fraction: the text shows it as written, e.g. 12.5
                value = round(value + 0.5, int(dec_s))
            return value
        if kind == "bool":
            return r.random() < 0.5
        if kind == "enum":
            return r.choice(rest.split(","))
        if kind == "list":
            lo_s, hi_s, sub = rest.split(":", 2)
            size = r.randint(int(lo_s), int(hi_s))
            out: list[Any] = []
            for _ in range(50):
                value = self.sample(sub)
                if value not in out:
                    out.append(value)
                if len(out) == size:
                    break
            return out
        if kind == "id":
            prefix, digits = rest.split(":")
            return f"{prefix}{r.randint(10 ** (int(digits) - 1), 10 ** int(digits) - 1)}"
        if kind == "date":
            return f"{r.choice(_MONTHS)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        if kind == "time":
            return f"{r.randint(6, 21):02d}:{r.choice(('00', '15', '30', '45'))}"
        if kind == "year":
            return r.randint(1990, 2025)
        simple = {
            "person": self.people, "first": self.first, "last": self.last, "company": self.companies, "town": self.towns,
            "street": self.streets, "zip": self.zips, "user": self.users, "email": self.emails,
            "job": self.jobs, "domain": self.domains,
        }
        if kind in simple:
            return r.choice(simple[kind])
        if kind == "place":  # a real city or a Faker town
            return r.choice(_POOLS["city"]) if r.random() < 0.7 else r.choice(self.towns)
        if kind == "team":
            return f"{r.choice(_POOLS['city'])} {r.choice(_POOLS['mascot'])}"
        if kind == "title":
            return f"{r.choice(_POOLS['adjective'])} {r.choice(_POOLS['noun'])}"
        if kind == "band":
            return f"The {r.choice(_POOLS['adjective'])} {r.choice(_POOLS['noun'])}s"
        if kind == "ip":
            return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        if kind == "phone":
            return f"+1-{r.randint(200, 989)}-555-{r.randint(1000, 9999)}"
        if kind in _POOLS:
            return r.choice(_POOLS[kind])
        raise ValueError(f"unknown value kind {gen!r}")


def _param_type(gen: str) -> str:
    kind = gen.split(":", 1)[0]
    return {"int": "integer", "year": "integer", "float": "float", "bool": "boolean", "list": "array"}.get(
        kind, "string"
    )


# ------------------------------------------------------------------------------------------ the catalogue
# Shared parameters: key -> (description, value kind, phrase(s) with {v}, default for optional use).
# A phrase is how the request states the value ("a|b": alternatives); for booleans "when true~when false".

_Spec = tuple[Any, ...]

_SHARED: dict[str, _Spec] = {
    "city": ("Name of the city.", "place", "in {v}|for {v}"),
    "country": ("Name of the country.", "country", "in {v}|for {v}"),
    "date": ("Date in YYYY-MM-DD format.", "date", "on {v}|for {v}"),
    "start_date": ("Start date, YYYY-MM-DD.", "date", "from {v}|starting {v}"),
    "end_date": ("End date, YYYY-MM-DD.", "date", "until {v}|through {v}"),
    "time": ("Time of day, HH:MM (24h).", "time", "at {v}"),
    "person": ("Full name of the person.", "person", "for {v}|of {v}"),
    "email": ("E-mail address.", "email", "at {v}|to {v}"),
    "company": ("Company name.", "company", "for {v}|at {v}"),
    "limit": ("Maximum number of results.", "int:2:25", "limited to {v} results|showing at most {v} results", 10),
    "language": ("Language name.", "language", "in {v}"),
    "currency": ("ISO currency code.", "currency", "in {v}"),
    "year": ("Calendar year.", "year", "in {v}|for {v}"),
    "user": ("Account username.", "user", "for user {v}|for the account {v}"),
}

# Domain: (module alias, context sentences, own params, functions). Function: (name words, description,
# action phrases "a|b", param tokens ("x?" optional), noun phrase or None).
_Fn = tuple[str, str, str, str, str | None]

_DOMAINS: dict[str, tuple[str, tuple[str, ...], dict[str, _Spec], tuple[_Fn, ...]]] = {
    "weather": ("meteo", ("I'm planning a weekend outdoors.", "We have an event coming up."), {
        "days": ("Number of days ahead, 1-14.", "int:1:14", "for the next {v} days|over {v} days", 3),
        "units": ("Unit system.", "enum:metric,imperial", "in {v} units", "metric"),
        "hourly": ("Return hourly detail.", "bool", "with hourly detail~as a daily summary", False),
        "pollutant": ("Pollutant to report.", "enum:pm25,pm10,ozone,no2", "for {v}", "pm25"),
        "month": ("Month number 1-12.", "int:1:12", "for month {v}"),
        "threshold_mm": ("Rain threshold in millimetres.", "float:0.5:30:1", "above {v} mm", 1.0),
    }, (
        ("fetch daily outlook", "Daily weather outlook for a city.", "get the weather outlook|show the forecast",
         "city days? units? hourly?", "the weather outlook"),
        ("read pollution level", "Current air pollutant level for a city.", "check the pollution level|read the air pollution",
         "city pollutant?", "the pollution level"),
        ("monthly climate normals", "Long-term climate averages for a month.", "get the climate normals|look up climate averages",
         "city month", "the climate normals"),
        ("rain alert subscribe", "Subscribe an e-mail to rain alerts.", "subscribe to rain alerts|set up a rain alert",
         "city email threshold_mm?", None),
        ("uv index lookup", "UV index for a city on a date.", "look up the UV index|check the UV index",
         "city date", "the UV index"),
    )),
    "finance": ("markets", ("I'm reviewing my portfolio.", "Quick market question."), {
        "ticker": ("Stock ticker symbol.", "ticker", "for {v}|of {v}"),
        "tickers": ("Stock ticker symbols.", "list:2:4:ticker", "for {v}"),
        "interval": ("Bar interval.", "enum:1d,1wk,1mo", "at {v} intervals", "1d"),
        "principal": ("Amount invested.", "int:500:90000", "on {v} dollars|with {v} dollars"),
        "rate_pct": ("Annual rate in percent.", "float:0.5:12:2", "at {v} percent|at a rate of {v}%"),
        "years": ("Number of years.", "int:1:40", "over {v} years|for {v} years"),
        "shares": ("Number of shares.", "int:1:500", "of {v} shares"),
        "after_hours": ("Include after-hours trading.", "bool", "including after-hours trades~regular hours only", False),
    }, (
        ("quote snapshot", "Latest price snapshot for a stock.", "get a quote|fetch the latest price",
         "ticker after_hours?", "the latest quote"),
        ("price history", "Historical prices for a stock between two dates.", "pull the price history|get historical prices",
         "ticker start_date end_date interval?", "the price history"),
        ("compare tickers", "Compare performance of several stocks.", "compare the performance|benchmark the returns",
         "tickers years?", None),
        ("compound growth projection", "Project compound growth of an investment.", "project the compound growth|estimate the growth",
         "principal rate_pct years", "the projected value"),
        ("dividend schedule", "Upcoming dividend dates for a stock.", "list upcoming dividends|show the dividend schedule",
         "ticker limit?", "the dividend schedule"),
        ("position value", "Market value of a holding.", "value a position|work out the position value",
         "ticker shares", "the value"),
    )),
    "banking": ("bank", ("I'm sorting out my accounts.",), {
        "account_id": ("Account identifier.", "id:ACC-:6", "for account {v}|on account {v}"),
        "to_account": ("Destination account identifier.", "id:ACC-:6", "to account {v}"),
        "amount": ("Amount in account currency.", "float:5:5000:2", "of {v}|for {v}"),
        "memo": ("Short note for the transfer.", "enum:rent,groceries,savings,gift,invoice", "marked as {v}", "savings"),
        "min_amount": ("Only transactions above this amount.", "int:10:900", "above {v}", 0),
        "card_last4": ("Last four digits of the card.", "id::4", "ending in {v}"),
    }, (
        ("move funds", "Transfer money between accounts.", "transfer money|move funds",
         "account_id to_account amount memo?", None),
        ("statement lines", "Transactions of an account in a date range.", "list the transactions|pull the statement",
         "account_id start_date end_date min_amount?", "the transactions"),
        ("freeze card", "Temporarily block a payment card.", "freeze the card|block the card", "card_last4", None),
        ("available balance", "Available balance of an account.", "check the balance|get the available balance",
         "account_id currency?", "the balance"),
    )),
    "flights": ("air", ("I'm planning a trip.", "Work travel again."), {
        "origin": ("Departure airport IATA code.", "airport", "from {v}"),
        "destination": ("Arrival airport IATA code.", "airport", "to {v}"),
        "passengers": ("Number of passengers.", "int:1:6", "for {v} passengers|for {v} people", 1),
        "cabin": ("Cabin class.", "enum:economy,premium,business,first", "in {v} class", "economy"),
        "nonstop": ("Only nonstop flights.", "bool", "nonstop only~with stops allowed", False),
        "flight_no": ("Flight number.", "id:TX:4", "for flight {v}|on flight {v}"),
        "bags": ("Checked bags per passenger.", "int:0:3", "with {v} checked bags", 0),
    }, (
        ("search fares", "Search fares between two airports.", "search fares|find flights",
         "origin destination date passengers? cabin? nonstop?", None),
        ("flight status", "Live status of a flight.", "check the status|track", "flight_no date?", "the status"),
        ("seat map", "Seat map of a flight.", "show the seat map|get the seat map", "flight_no cabin?", "the seat map"),
        ("add baggage", "Add checked bags to a booking.", "add checked bags|add baggage", "flight_no bags", None),
    )),
    "hotels": ("lodging", ("I'm planning a trip.",), {
        "check_in": ("Check-in date, YYYY-MM-DD.", "date", "checking in {v}|from {v}"),
        "nights": ("Number of nights.", "int:1:14", "for {v} nights"),
        "guests": ("Number of guests.", "int:1:6", "for {v} guests", 2),
        "max_price": ("Maximum nightly price.", "int:40:600", "under {v} per night"),
        "amenities": ("Required amenities.", "list:1:3:amenity", "with {v}"),
        "booking_ref": ("Booking reference.", "id:HB:7", "for booking {v}|on reservation {v}"),
    }, (
        ("find stays", "Find hotels in a city for given dates.", "find a hotel|look for hotel rooms",
         "city check_in nights guests? max_price? amenities?", None),
        ("guest reviews", "Guest reviews of a booked hotel.", "show guest reviews|read reviews", "booking_ref limit?",
         "the guest reviews"),
        ("cancel stay", "Cancel a hotel reservation.", "cancel the hotel reservation|cancel", "booking_ref", None),
        ("extend stay", "Add nights to a reservation.", "extend the stay|add nights", "booking_ref nights", None),
    )),
    "calendar": ("cal", ("My week is packed.", "Scheduling question."), {
        "title": ("Event title.", "title", "called {v}|titled {v}"),
        "duration_min": ("Duration in minutes.", "int:15:180", "for {v} minutes|lasting {v} minutes", 30),
        "attendees": ("Attendee e-mails.", "list:1:3:email", "with {v}|inviting {v}"),
        "reminder_min": ("Reminder minutes before.", "int:5:60", "with a reminder {v} minutes before", 10),
        "event_id": ("Event identifier.", "id:EV:6", "for event {v}|of event {v}"),
        "recurring": ("Repeat weekly.", "bool", "repeating weekly~as a one-off", False),
    }, (
        ("schedule event", "Create a calendar event.", "schedule an event|add an event",
         "title date time duration_min? recurring?", None),
        ("invite people", "Invite people to an event.", "send invites|invite people", "event_id attendees", None),
        ("free slots", "Free time slots on a date.", "find free slots|list open slots", "date duration_min?",
         "my free slots"),
        ("move event", "Reschedule an event.", "reschedule|move", "event_id date time", None),
        ("set reminder", "Set a reminder on an event.", "set a reminder|add a reminder", "event_id reminder_min", None),
    )),
    "shop": ("store", ("I'm shopping online.", "Looking to buy something."), {
        "query": ("Search text.", "query", "for {v}|matching {v}"),
        "max_price": ("Maximum price.", "int:10:900", "under {v} dollars|below {v}"),
        "sort_by": ("Sort order.", "enum:price,rating,newest,popularity", "sorted by {v}", "popularity"),
        "sku": ("Product SKU.", "id:SKU-:5", "for item {v}|of product {v}"),
        "quantity": ("Number of units.", "int:2:10", "in quantity {v}|times {v}", 1),
        "order_id": ("Order identifier.", "id:ORD-:6", "for order {v}|on order {v}"),
        "reason": ("Return reason.", "enum:damaged,wrong_item,too_small,not_needed", "because it is {v}"),
        "coupon": ("Coupon code.", "id:SAVE:2", "with coupon {v}"),
        "gift_wrap": ("Gift wrap the item.", "bool", "gift wrapped~without gift wrap", False),
    }, (
        ("catalog search", "Search products in the catalog.", "search the catalog|search products",
         "query max_price? sort_by? limit?", None),
        ("cart add", "Add a product to the cart.", "add to cart|put in my cart", "sku quantity? gift_wrap?", None),
        ("order tracking", "Tracking status of an order.", "track|check delivery status", "order_id", "the status"),
        ("start return", "Start a return for an order.", "start a return|return the item", "order_id reason", None),
        ("apply coupon", "Apply a coupon to an order.", "apply a coupon|use a coupon", "order_id coupon", None),
    )),
    "geometry": ("geo2d", ("Homework help, please.", "Quick geometry check."), {
        "radius": ("Radius length.", "float:0.5:40:1", "with radius {v}|of radius {v}"),
        "side_a": ("First side length.", "int:2:60", "with sides {v}"),
        "side_b": ("Second side length.", "int:2:60", "and {v}"),
        "side_c": ("Third side length.", "int:2:60", "and {v}"),
        "height": ("Height.", "float:1:50:1", "and height {v}|with height {v}"),
        "vertices": ("Number of polygon sides.", "int:3:12", "with {v} sides"),
        "side_len": ("Length of each side.", "float:1:30:1", "of length {v}|each {v} long"),
        "unit": ("Length unit.", "unit_len", "in {v}", "meters"),
        "points": ("Polygon vertex x-coordinates.", "list:3:5:int:-20:20", "with x-coordinates {v}"),
    }, (
        ("circle metrics", "Area and circumference of a circle.", "compute circle area and circumference|measure a circle",
         "radius unit?", None),
        ("cone volume", "Volume of a right circular cone.", "find the cone volume|compute the volume of a cone",
         "radius height unit?", "the volume of a cone"),
        ("triangle perimeter", "Perimeter of a triangle from sides.", "get the triangle perimeter|compute the perimeter of a triangle",
         "side_a side_b side_c", "the perimeter of a triangle"),
        ("regular polygon area", "Area of a regular polygon.", "compute the area of a regular polygon|find the polygon area",
         "vertices side_len", "the area of a regular polygon"),
        ("x span", "Span between smallest and largest x-coordinate.", "measure the x span|find the horizontal span",
         "points", "the horizontal span of the points"),
    )),
    "physics": ("mechanics", ("Physics problem set.", "This is for my lab report."), {
        "mass_kg": ("Mass in kilograms.", "float:0.1:500:1", "with mass {v} kg|for a {v} kg object"),
        "velocity": ("Speed in m/s.", "float:0.5:90:1", "moving at {v} m/s|at {v} m/s"),
        "angle_deg": ("Launch angle in degrees.", "int:5:85", "at {v} degrees"),
        "gravity": ("Gravity in m/s^2.", "float:1.6:24.8:1", "with gravity {v}", 9.8),
        "spring_k": ("Spring constant N/m.", "int:10:2000", "with spring constant {v}"),
        "stretch_m": ("Displacement in meters.", "float:0.01:2:2", "stretched {v} m"),
        "wavelength_nm": ("Wavelength in nanometres.", "int:200:900", "at {v} nm"),
        "height_m": ("Drop height in meters.", "float:0.5:300:1", "from {v} m|from a height of {v} m"),
        "air_drag": ("Account for air resistance.", "bool", "with air drag~ignoring air resistance", False),
    }, (
        ("kinetic energy", "Kinetic energy of a moving mass.", "compute the kinetic energy|find the kinetic energy",
         "mass_kg velocity", "the kinetic energy"),
        ("projectile reach", "Horizontal range of a projectile.", "compute the projectile reach|find how far it lands",
         "velocity angle_deg gravity?", "the range"),
        ("spring potential", "Energy stored in a stretched spring.", "compute the spring energy|find the stored energy",
         "spring_k stretch_m", "the stored energy"),
        ("photon energy", "Energy of a photon from wavelength.", "compute the photon energy|get the photon energy",
         "wavelength_nm", "the photon energy"),
        ("free fall time", "Time to fall from a height.", "compute the fall time|find how long the drop takes",
         "height_m gravity? air_drag?", "the fall time"),
    )),
    "chemistry": ("chem", ("Chemistry class question.",), {
        "formula": ("Chemical formula.", "compound", "for {v}|of {v}"),
        "element": ("Element name.", "element", "for {v}|of {v}"),
        "grams": ("Mass in grams.", "float:0.5:500:1", "for {v} grams|of {v} g"),
        "volume_l": ("Solution volume in litres.", "float:0.1:10:2", "in {v} litres|in {v} L"),
        "temperature_k": ("Temperature in kelvin.", "int:200:900", "at {v} K", 298),
        "pressure_atm": ("Pressure in atmospheres.", "float:0.2:20:1", "at {v} atm"),
        "moles": ("Amount in moles.", "float:0.1:15:2", "of {v} mol|for {v} moles"),
        "isotopes": ("Include isotope data.", "bool", "with isotope data~without isotopes", False),
    }, (
        ("molar mass", "Molar mass of a compound.", "compute the molar mass|get the molar mass", "formula",
         "the molar mass"),
        ("element card", "Properties of a chemical element.", "look up the element|show properties",
         "element isotopes?", "the properties"),
        ("molarity", "Molarity from mass of solute and volume.", "compute the molarity|find the concentration",
         "formula grams volume_l", "the molarity"),
        ("ideal gas volume", "Gas volume from moles, temperature, pressure.", "compute the gas volume|find the volume of the gas",
         "moles pressure_atm temperature_k?", "the gas volume"),
    )),
    "music": ("audio", ("Music question.", "I'm making a playlist."), {
        "artist": ("Artist or band name.", "band", "by {v}|from {v}"),
        "track": ("Track title.", "title", "{v}|the song {v}"),
        "genre": ("Music genre.", "genre", "of {v}|in the {v} genre"),
        "playlist": ("Playlist name.", "title", "to the playlist {v}|to {v}"),
        "tempo_bpm": ("Tempo in beats per minute.", "int:60:180", "at {v} bpm"),
        "key": ("Musical key.", "enum:C,D,E,F,G,A,B", "in {v}", "C"),
        "shuffle": ("Shuffle playback.", "bool", "on shuffle~in order", False),
        "instrument": ("Instrument.", "instrument", "for {v}|on {v}"),
    }, (
        ("queue artist", "Start playing an artist.", "play|start playing", "artist shuffle?", None),
        ("playlist insert", "Add a track to a playlist.", "add|put", "track playlist", None),
        ("genre picks", "Recommended tracks for a genre.", "recommend tracks|suggest songs", "genre limit?", None),
        ("metronome start", "Start a metronome.", "start a metronome|run the metronome", "tempo_bpm", None),
        ("scale chart", "Scale fingering chart for an instrument.", "show the scale chart|get scale fingerings",
         "instrument key?", "the scale chart"),
    )),
    "sports": ("league", ("Sports fan here.", "Settling a debate."), {
        "team": ("Team name.", "team", "for the {v}|of the {v}"),
        "opponent": ("Opponent team name.", "team", "against the {v}|versus the {v}"),
        "season": ("Season start year.", "int:2005:2025", "in the {v} season|for {v}"),
        "player": ("Player name.", "person", "for {v}|of {v}"),
        "sport": ("Sport.", "sport", "in {v}", "basketball"),
        "last_n": ("Number of recent games.", "int:3:20", "over the last {v} games", 5),
    }, (
        ("standings table", "League standings for a season.", "show the standings|get the league table",
         "sport season", "the standings"),
        ("head to head", "Head-to-head record of two teams.", "get the head-to-head record|compare the record",
         "team opponent last_n?", "the head-to-head record"),
        ("player form", "Recent stats of a player.", "get recent stats|show form", "player last_n?", "the recent stats"),
        ("fixture list", "Upcoming fixtures of a team.", "list fixtures|show upcoming games", "team limit?",
         "the upcoming fixtures"),
    )),
    "recipes": ("kitchen", ("Cooking tonight.", "I have guests coming."), {
        "dish": ("Dish name.", "dish", "for {v}|of {v}"),
        "servings": ("Number of servings.", "int:1:12", "for {v} servings|for {v} people"),
        "ingredients": ("Ingredients on hand.", "list:2:4:ingredient", "using {v}|with {v}"),
        "max_minutes": ("Maximum total time.", "int:10:120", "in under {v} minutes", 60),
        "diet": ("Dietary filter.", "enum:vegan,vegetarian,gluten_free,none", "that is {v}", "none"),
        "cuisine": ("Cuisine.", "cuisine", "of {v} cuisine|in the {v} style"),
        "ingredient": ("Ingredient to replace.", "ingredient", "for {v}|replacing {v}"),
    }, (
        ("scale recipe", "Rescale a recipe to a serving count.", "scale the recipe|resize the recipe",
         "dish servings", None),
        ("pantry ideas", "Recipes from ingredients on hand.", "suggest recipes|find recipes",
         "ingredients max_minutes? diet?", None),
        ("cuisine menu", "Menu ideas for a cuisine.", "plan a menu|suggest a menu", "cuisine servings?", None),
        ("swap ingredient", "Substitutes for an ingredient.", "suggest a substitute|find a swap", "ingredient diet?",
         "a substitute"),
    )),
    "health": ("clinic", ("Health question.", "I'm tracking my fitness."), {
        "weight_kg": ("Body weight in kg.", "float:40:150:1", "weighing {v} kg|at {v} kg"),
        "height_cm": ("Height in cm.", "int:140:210", "and {v} cm tall|at {v} cm"),
        "age": ("Age in years.", "int:18:90", "aged {v}|age {v}"),
        "activity": ("Activity.", "activity", "for {v}|doing {v}"),
        "minutes": ("Duration in minutes.", "int:10:180", "for {v} minutes"),
        "symptom": ("Main symptom.", "symptom", "for {v}|about {v}"),
        "medication": ("Medication name.", "medication", "for {v}|of {v}"),
        "dose_mg": ("Dose in mg.", "int:50:1000", "at {v} mg"),
        "sex": ("Biological sex.", "enum:female,male", "for a {v}", "female"),
    }, (
        ("body fat estimate", "Estimate body fat percentage.", "estimate body fat|compute body fat",
         "weight_kg height_cm age sex?", "the body fat estimate"),
        ("burned calories", "Calories burned in an activity.", "estimate calories burned|compute calories burned",
         "activity minutes weight_kg?", "the calories burned"),
        ("triage symptom", "Self-care guidance for a symptom.", "get guidance|look up advice", "symptom age?", None),
        ("dose check", "Check a medication dose is in range.", "check the dose|verify the dosage",
         "medication dose_mg age?", None),
    )),
    "hr": ("people", ("HR admin task.", "Onboarding season."), {
        "employee_id": ("Employee identifier.", "id:E:5", "for employee {v}|of employee {v}"),
        "department": ("Department.", "department", "in {v}|for {v}"),
        "job_title": ("Job title.", "job", "for a {v} role|as {v}"),
        "leave_type": ("Kind of leave.", "enum:vacation,sick,parental,unpaid", "as {v} leave", "vacation"),
        "days": ("Number of days.", "int:1:30", "for {v} days"),
        "salary": ("Annual salary.", "int:30000:250000", "at {v} per year|with salary {v}"),
        "remote": ("Remote position.", "bool", "as a remote role~on site", False),
        "skills": ("Required skills.", "list:1:3:skill", "requiring {v}"),
    }, (
        ("request leave", "File a leave request.", "file a leave request|request time off",
         "employee_id start_date days leave_type?", None),
        ("post opening", "Publish a job opening.", "post a job opening|publish a vacancy",
         "job_title department salary? remote?", None),
        ("team roster", "List employees in a department.", "list the team|show the roster", "department limit?",
         "the roster"),
        ("candidate match", "Find candidates with given skills.", "find candidates|search candidates",
         "skills city?", None),
        ("adjust pay", "Change an employee salary.", "update the salary|adjust pay", "employee_id salary", None),
    )),
    "logistics": ("freight", ("Warehouse question.", "Shipping issue."), {
        "tracking_no": ("Tracking number.", "id:TRK:9", "for shipment {v}|of parcel {v}"),
        "weight_kg": ("Parcel weight in kg.", "float:0.2:80:1", "weighing {v} kg"),
        "origin_zip": ("Origin postcode.", "zip", "from postcode {v}"),
        "dest_zip": ("Destination postcode.", "zip", "to postcode {v}"),
        "speed": ("Service level.", "enum:standard,express,overnight", "by {v} service", "standard"),
        "warehouse": ("Warehouse code.", "id:WH:2", "at warehouse {v}|in warehouse {v}"),
        "sku": ("Stock keeping unit.", "id:SKU-:5", "for {v}|of {v}"),
        "pallets": ("Number of pallets.", "int:1:40", "for {v} pallets"),
        "insured": ("Add insurance.", "bool", "with insurance~uninsured", False),
    }, (
        ("parcel trace", "Trace a parcel by tracking number.", "trace|locate", "tracking_no", "the location"),
        ("rate quote", "Shipping rate quote for a parcel.", "quote shipping|get a shipping rate",
         "weight_kg origin_zip dest_zip speed? insured?", None),
        ("stock level", "Stock on hand at a warehouse.", "check stock|look up inventory", "sku warehouse",
         "the stock level"),
        ("book pickup", "Book a freight pickup.", "book a pickup|arrange a pickup", "warehouse date pallets", None),
    )),
    "smarthome": ("home", ("I'm away from home.", "Setting up the house."), {
        "device": ("Device name.", "device", "the {v}"),
        "room": ("Room name.", "room", "in the {v}|for the {v}"),
        "temperature_c": ("Target temperature in Celsius.", "float:15:28:1", "to {v} degrees|at {v} C"),
        "brightness": ("Brightness percent.", "int:5:100", "to {v}%|at {v} percent", 80),
        "color": ("Light colour.", "color", "in {v}", "white"),
        "scene": ("Scene name.", "enum:movie,reading,party,sleep,away", "to {v} mode|into {v} mode"),
        "hours": ("Hours of history.", "int:1:72", "for the last {v} hours", 24),
    }, (
        ("switch on", "Turn on a device.", "turn on|switch on", "device", None),
        ("dim lights", "Set light brightness in a room.", "dim the lights|set the lights", "room brightness color?",
         None),
        ("set thermostat", "Set target temperature for a room.", "set the heating|set the thermostat",
         "room temperature_c", None),
        ("activate scene", "Activate a home scene.", "switch the house|set the home", "scene", None),
        ("energy usage", "Energy use history of a device.", "show energy usage for|get power usage of", "device hours?",
         "the energy usage"),
    )),
    "database": ("sql", ("Data question.", "This is for a dashboard."), {
        "table": ("Table name.", "table", "from {v}|in {v}|on {v}"),
        "columns": ("Columns to select.", "list:1:3:column", "selecting {v}|with columns {v}"),
        "order_by": ("Column to sort by.", "column", "ordered by {v}", "created_at"),
        "descending": ("Sort descending.", "bool", "descending~ascending", False),
        "column": ("Column name.", "column", "on {v}|for {v}"),
        "rows": ("Row count.", "int:1:1000", "limited to {v} rows", 100),
        "backup_name": ("Backup label.", "id:bk_:4", "named {v}"),
    }, (
        ("select rows", "Select columns from a table.", "query|select data", "table columns order_by? descending? rows?",
         None),
        ("count rows", "Count rows in a table.", "count the rows|count records", "table", "the row count"),
        ("create index", "Create an index on a column.", "create an index|add an index", "table column", None),
        ("snapshot table", "Back up a table.", "back up|snapshot", "table backup_name", None),
        ("distinct values", "Distinct values of a column.", "list distinct values|get unique values",
         "table column rows?", "the distinct values"),
    )),
    "translation": ("lingo", ("Language help, please.", "Travelling abroad soon."), {
        "text": ("Text to translate.", "sentence", "'{v}'"),
        "target": ("Target language.", "language", "into {v}|to {v}"),
        "source": ("Source language.", "language", "from {v}", "auto"),
        "formal": ("Use formal register.", "bool", "formally~informally", False),
        "word": ("Word to define.", "word", "'{v}'|the word '{v}'"),
    }, (
        ("translate text", "Translate text into another language.", "translate", "text target source? formal?", None),
        ("detect language", "Detect the language of a text.", "detect the language of|identify the language of",
         "text", None),
        ("define word", "Dictionary definition of a word.", "define|look up", "word language?", None),
        ("pronunciation audio", "Audio pronunciation of a word.", "pronounce|get audio for", "word language", None),
    )),
    "maps": ("nav", ("I'm driving later.", "Getting around town."), {
        "start": ("Start location.", "place", "from {v}"),
        "end": ("End location.", "place", "to {v}"),
        "mode": ("Travel mode.", "enum:driving,walking,cycling,transit", "by {v}", "driving"),
        "avoid_tolls": ("Avoid toll roads.", "bool", "avoiding tolls~tolls allowed", False),
        "address": ("Street address.", "street", "for {v}|of {v}"),
        "radius_km": ("Search radius in km.", "float:0.5:25:1", "within {v} km", 5.0),
        "category": ("Place category.", "enum:pharmacy,cafe,fuel,atm,parking,museum", "a {v}|nearby {v}"),
        "lat": ("Latitude.", "float:-60:60:4", "at latitude {v}"),
        "lon": ("Longitude.", "float:-170:170:4", "and longitude {v}"),
    }, (
        ("plan route", "Route between two places.", "plan a route|get directions", "start end mode? avoid_tolls?",
         None),
        ("geocode street", "Coordinates of a street address.", "geocode|find coordinates", "address city",
         "the coordinates"),
        ("nearby places", "Places of a category near a city.", "find places|search for places",
         "category city radius_km?", None),
        ("reverse geocode", "Address at coordinates.", "reverse geocode|find the address", "lat lon",
         "the address"),
    )),
    "astronomy": ("sky", ("Stargazing tonight.", "Astronomy club question."), {
        "star": ("Star name.", "star", "for {v}|of {v}"),
        "planet": ("Planet name.", "planet", "for {v}|of {v}"),
        "constellation": ("Constellation.", "constellation", "in {v}|for {v}"),
        "magnitude": ("Faintest magnitude.", "float:1:8:1", "brighter than magnitude {v}", 6.0),
        "distance_ly": ("Distance in light years.", "float:1:5000:1", "at {v} light years"),
    }, (
        ("rise set times", "Rise and set times of a planet.", "get rise and set times|find when it rises",
         "planet city date", "the rise and set times"),
        ("star catalogue", "Catalogue data of a star.", "look up catalogue data|get star data", "star",
         "the catalogue data"),
        ("constellation map", "Visible stars in a constellation.", "map the stars|list visible stars",
         "constellation magnitude?", None),
        ("light travel", "Years for light to cross a distance.", "compute light travel time|convert distance",
         "distance_ly", None),
    )),
    "legal": ("law", ("Legal admin task.", "This is for a client file."), {
        "case_no": ("Case number.", "id:CV-:6", "for case {v}|in case {v}"),
        "jurisdiction": ("Jurisdiction.", "country", "in {v}|under {v} law"),
        "party": ("Party name.", "company", "for {v}|involving {v}"),
        "doc_type": ("Document type.", "enum:nda,lease,employment,service_agreement", "an {v}|a {v}"),
        "hearing_date": ("Hearing date.", "date", "on {v}"),
        "term_months": ("Term length in months.", "int:1:60", "for {v} months", 12),
    }, (
        ("docket entries", "Docket entries of a case.", "list docket entries|show the docket", "case_no limit?",
         "the docket"),
        ("draft contract", "Draft a contract template.", "draft|prepare", "doc_type party jurisdiction term_months?",
         None),
        ("schedule hearing", "Schedule a hearing.", "schedule a hearing|book a hearing", "case_no hearing_date time?",
         None),
        ("conflict check", "Conflict-of-interest check for a party.", "run a conflict check|check conflicts",
         "party", None),
    )),
    "realestate": ("property", ("House hunting.", "Thinking about moving."), {
        "bedrooms": ("Minimum bedrooms.", "int:1:6", "with {v} bedrooms|{v}-bedroom"),
        "max_price": ("Maximum price.", "int:80000:2000000", "under {v}|below {v}"),
        "listing_id": ("Listing identifier.", "id:LST:6", "for listing {v}|of listing {v}"),
        "area_m2": ("Floor area in m2.", "int:30:400", "of {v} square meters"),
        "rent": ("Rent, not buy.", "bool", "to rent~to buy", False),
        "down_payment": ("Down payment.", "int:5000:400000", "with {v} down"),
        "rate_pct": ("Mortgage rate percent.", "float:1:9:2", "at {v}%"),
        "term_years": ("Loan term in years.", "int:10:35", "over {v} years", 25),
    }, (
        ("listing search", "Search property listings.", "search listings|find homes",
         "city bedrooms max_price? rent?", None),
        ("valuation estimate", "Estimated value of a property.", "estimate the value|value the property",
         "city area_m2 bedrooms?", "the estimated value"),
        ("book viewing", "Book a viewing for a listing.", "book a viewing|arrange a visit", "listing_id date time",
         None),
        ("mortgage payment", "Monthly mortgage payment.", "compute the mortgage payment|estimate the monthly payment",
         "max_price down_payment rate_pct term_years?", "the monthly payment"),
    )),
    "email": ("mail", ("Inbox cleanup.", "Need to reach someone."), {
        "to": ("Recipient e-mail.", "email", "to {v}"),
        "subject": ("Subject line.", "title", "with subject {v}|titled {v}"),
        "folder": ("Mailbox folder.", "enum:inbox,archive,sent,spam", "in {v}", "inbox"),
        "sender": ("Sender e-mail.", "email", "from {v}"),
        "unread_only": ("Only unread.", "bool", "unread only~including read ones", False),
        "phone": ("Phone number.", "phone", "to {v}"),
        "body": ("Message text.", "sentence", "saying '{v}'"),
    }, (
        ("compose send", "Send an e-mail.", "send an e-mail|e-mail someone", "to subject", None),
        ("inbox search", "Search mail from a sender.", "search mail|find e-mails", "sender folder? unread_only?",
         None),
        ("text message", "Send an SMS.", "text|send an SMS", "phone body", None),
        ("mute thread", "Mute threads with a subject.", "mute the thread|silence the thread", "subject", None),
    )),
    "movies": ("cinema", ("Movie night.", "Weekend plans."), {
        "title": ("Film title.", "title", "for {v}|for the film {v}"),
        "showtime_date": ("Screening date.", "date", "on {v}"),
        "seats": ("Number of seats.", "int:1:8", "for {v} seats|for {v} people"),
        "format": ("Screen format.", "enum:2D,3D,IMAX", "in {v}", "2D"),
        "min_rating": ("Minimum rating out of 10.", "float:5:9:1", "rated above {v}", 7.0),
        "release_year": ("Release year.", "year", "from {v}|released in {v}"),
    }, (
        ("showtimes near", "Showtimes of a film in a city.", "find showtimes|list screenings", "title city showtime_date?",
         None),
        ("seat booking", "Book cinema seats.", "book seats|buy tickets", "title showtime_date seats format?", None),
        ("year picks", "Top films of a year.", "recommend films|suggest movies", "release_year min_rating? limit?", None),
        ("cast list", "Cast of a film.", "show the cast|list the actors", "title", "the cast"),
    )),
    "books": ("library", ("Reading list time.", "Book club question."), {
        "isbn": ("ISBN-13.", "id:978:10", "with ISBN {v}|for ISBN {v}"),
        "author": ("Author name.", "person", "by {v}"),
        "branch": ("Library branch.", "town", "at the {v} branch", "central"),
        "format": ("Format.", "enum:print,ebook,audiobook", "as {v}|in {v} format", "print"),
        "card_no": ("Library card number.", "id:LC:7", "on card {v}|for card {v}"),
    }, (
        ("hold copy", "Place a hold on a book.", "place a hold|reserve", "isbn card_no branch? format?", None),
        ("author works", "Books by an author.", "list books|find titles", "author limit?", None),
        ("renew loans", "Renew loans on a card.", "renew my loans|renew the books", "card_no", None),
        ("copy availability", "Availability of a book at branches.", "check availability|see if it is on the shelf",
         "isbn city?", "the availability"),
    )),
    "education": ("school", ("Study session.", "Teacher here."), {
        "subject": ("Subject.", "subject", "in {v}|for {v}|on {v}"),
        "grade": ("Grade level 1-12.", "int:1:12", "for grade {v}"),
        "questions": ("Number of questions.", "int:5:40", "with {v} questions", 10),
        "student_id": ("Student identifier.", "id:S:6", "for student {v}|of student {v}"),
        "difficulty": ("Difficulty.", "enum:easy,medium,hard", "at {v} difficulty", "medium"),
        "scores": ("Test scores.", "list:3:5:int:40:100", "from scores {v}|with scores {v}"),
    }, (
        ("build quiz", "Generate a quiz.", "make a quiz|build a quiz", "subject grade questions? difficulty?", None),
        ("report card", "Report card for a student.", "get the report card|pull grades", "student_id year?",
         "the report card"),
        ("grade average", "Average of test scores.", "average the scores|compute the mean grade", "scores",
         "the average"),
        ("tutor match", "Find a tutor for a subject.", "find a tutor|match a tutor", "subject city?", None),
    )),
    "crypto": ("chain", ("Crypto question.",), {
        "coin": ("Coin symbol.", "crypto", "for {v}|of {v}"),
        "coins": ("Coin symbols.", "list:2:4:crypto", "for {v}"),
        "wallet": ("Wallet address.", "id:0x:12", "for wallet {v}|of wallet {v}"),
        "quantity": ("Amount of coins.", "float:0.01:50:2", "of {v} coins|for {v} units"),
        "network": ("Network.", "enum:mainnet,testnet", "on {v}", "mainnet"),
        "days": ("Look-back window in days.", "int:7:365", "over the last {v} days", 30),
    }, (
        ("spot price", "Spot price of a coin.", "get the spot price|check the price", "coin currency?",
         "the spot price"),
        ("wallet holdings", "Holdings of a wallet.", "list holdings|show balances", "wallet network?",
         "the holdings"),
        ("gas estimate", "Fee estimate to send coins.", "estimate fees|estimate the gas", "coin quantity network?",
         "the fee estimate"),
        ("coin correlation", "Price correlation between coins.", "correlate|compare price movements", "coins days?",
         None),
    )),
    "restaurants": ("dining", ("Dinner plans.", "Celebrating tonight."), {
        "cuisine": ("Cuisine.", "cuisine", "serving {v} food|with {v} food"),
        "party_size": ("Number of diners.", "int:1:12", "for {v} people|for a party of {v}"),
        "restaurant": ("Restaurant name.", "title", "at {v}"),
        "outdoor": ("Outdoor seating.", "bool", "outside~indoors", False),
        "price_level": ("Price level 1-4.", "int:1:4", "at price level {v}", 2),
    }, (
        ("table booking", "Reserve a restaurant table.", "book a table|reserve a table",
         "restaurant date time party_size outdoor?", None),
        ("eatery search", "Search restaurants by cuisine.", "find restaurants|search for places to eat",
         "city cuisine price_level?", None),
        ("menu fetch", "Menu of a restaurant.", "show the menu|get the menu", "restaurant", "the menu"),
        ("waitlist join", "Join a restaurant waitlist.", "join the waitlist|get on the waitlist",
         "restaurant party_size", None),
    )),
    "transit": ("rides", ("Commuting today.", "Heading out."), {
        "pickup": ("Pickup address.", "street", "from {v}"),
        "dropoff": ("Drop-off address.", "street", "to {v}"),
        "ride_type": ("Ride type.", "enum:standard,xl,shared,premium", "as a {v} ride", "standard"),
        "stop_id": ("Transit stop code.", "id:STP:4", "at stop {v}|for stop {v}"),
        "line": ("Transit line.", "id:L:2", "for line {v}|on line {v}"),
        "bikes": ("Number of bikes.", "int:1:4", "{v} bikes"),
    }, (
        ("ride request", "Request a ride.", "request a ride|order a car", "pickup dropoff ride_type?", None),
        ("next departures", "Next departures at a stop.", "show next departures|get departures", "stop_id line?",
         "the next departures"),
        ("bike rental", "Reserve shared bikes near a stop.", "reserve bikes|rent bikes", "bikes stop_id", None),
        ("line alerts", "Service alerts for a line.", "check alerts|show disruptions", "line", "the alerts"),
    )),
    "statistics": ("stats", ("Data analysis homework.", "Crunching numbers."), {
        "values": ("Sample values.", "list:3:6:int:1:99", "of {v}|for {v}"),
        "confidence": ("Confidence level.", "float:0.8:0.99:2", "at {v} confidence", 0.95),
        "trials": ("Number of trials.", "int:2:60", "over {v} trials|in {v} trials"),
        "successes": ("Number of successes.", "int:0:30", "with {v} successes|getting {v} successes"),
        "p": ("Success probability.", "float:0.05:0.95:2", "at probability {v}|with p {v}"),
        "n": ("Sample size.", "int:5:5000", "with sample size {v}"),
    }, (
        ("sample median", "Median of values.", "compute the median|find the median", "values", "the median"),
        ("spread summary", "Variance and standard deviation.", "compute the spread|summarise the variance",
         "values", "the variance"),
        ("binomial chance", "Probability of exact successes.", "compute the binomial probability|find the chance",
         "trials successes p", "the probability"),
        ("margin of error", "Margin of error for a proportion.", "compute the margin of error|get the error margin",
         "n p confidence?", "the margin of error"),
    )),
    "units": ("convert", ("Conversion question.",), {
        "value": ("Quantity to convert.", "float:0.5:900:1", "{v}"),
        "from_len": ("Source length unit.", "unit_len", "{v}"),
        "to_len": ("Target length unit.", "unit_len", "to {v}|into {v}"),
        "from_mass": ("Source mass unit.", "unit_mass", "{v}"),
        "to_mass": ("Target mass unit.", "unit_mass", "to {v}|into {v}"),
        "celsius": ("Temperature in Celsius.", "float:-30:45:1", "{v} degrees Celsius|{v} C"),
        "amount": ("Money amount.", "float:1:9000:2", "{v}"),
        "from_currency": ("Source currency code.", "currency", "{v}"),
        "to_currency": ("Target currency code.", "currency", "to {v}|into {v}"),
        "decimals": ("Decimal places.", "int:0:4", "to {v} decimal places", 2),
    }, (
        ("length convert", "Convert a length between units.", "convert", "value from_len to_len decimals?", None),
        ("mass convert", "Convert a mass between units.", "convert", "value from_mass to_mass", None),
        ("to fahrenheit", "Convert Celsius to Fahrenheit.", "convert to Fahrenheit|turn into Fahrenheit", "celsius",
         None),
        ("fx convert", "Convert money between currencies.", "convert", "amount from_currency to_currency", None),
    )),
    "storage": ("drive", ("Cleaning up my files.", "Sharing work."), {
        "path": ("File path.", "file", "{v}|the file {v}"),
        "folder": ("Destination folder.", "enum:archive,shared,personal,team", "to the {v} folder|into {v}"),
        "share_with": ("E-mail to share with.", "email", "with {v}"),
        "permission": ("Access level.", "enum:view,comment,edit", "with {v} access", "view"),
        "days": ("Link lifetime in days.", "int:1:30", "for {v} days", 7),
        "versions": ("Number of versions.", "int:1:10", "the last {v} versions", 3),
    }, (
        ("share file", "Share a file with someone.", "share|give access to", "path share_with permission?", None),
        ("move file", "Move a file to a folder.", "move|file", "path folder", None),
        ("public link", "Create a public link to a file.", "create a link for|make a public link to",
         "path days?", None),
        ("version history", "Version history of a file.", "show version history of|list versions of",
         "path versions?", None),
    )),
    "devops": ("ops", ("Production issue.", "On call tonight."), {
        "host": ("Host name.", "host", "on {v}|for {v}"),
        "service": ("Service name.", "enum:nginx,postgres,redis,kafka,api", "{v}|the {v} service"),
        "lines": ("Number of log lines.", "int:10:500", "the last {v} lines", 100),
        "replicas": ("Replica count.", "int:1:20", "to {v} replicas"),
        "image_tag": ("Image tag.", "id:v1.:2", "with tag {v}|at version {v}"),
        "dry_run": ("Simulate only.", "bool", "as a dry run~for real", False),
        "ip": ("IP address.", "ip", "{v}|address {v}"),
    }, (
        ("restart service", "Restart a service on a host.", "restart|bounce", "service host dry_run?", None),
        ("tail logs", "Recent log lines of a service.", "tail the logs of|show logs for", "service host? lines?",
         None),
        ("scale deployment", "Scale a deployment.", "scale|resize", "service replicas", None),
        ("roll out", "Deploy an image tag.", "deploy|roll out", "service image_tag dry_run?", None),
        ("ping host", "Check reachability of an IP.", "ping|check reachability of", "ip", None),
    )),
    "social": ("feed", ("Social media manager here.",), {
        "handle": ("Account handle.", "user", "of {v}|for {v}"),
        "hashtag": ("Hashtag.", "hashtag", "for {v}|tagged {v}"),
        "text": ("Post text.", "sentence", "saying '{v}'"),
        "schedule_at": ("Publish time HH:MM.", "time", "at {v}", "now"),
        "platform": ("Platform.", "enum:mastodon,bluesky,threads,linkedin", "on {v}", "mastodon"),
        "days": ("Look-back window in days.", "int:1:90", "over the last {v} days", 7),
    }, (
        ("publish post", "Publish a post.", "publish a post|post", "text platform? schedule_at?", None),
        ("follower growth", "Follower growth of an account.", "chart follower growth|show follower growth",
         "handle days?", "the follower growth"),
        ("hashtag trend", "Volume of a hashtag.", "check the trend|measure the volume", "hashtag days?",
         "the trend"),
        ("block account", "Block an account.", "block the account|mute the account", "handle", None),
    )),
    "news": ("press", ("Catching up on news.",), {
        "topic": ("Topic.", "topic", "about {v}|on {v}"),
        "source_country": ("Country of sources.", "country", "from {v}", "any"),
        "hours": ("Recency in hours.", "int:1:72", "from the last {v} hours", 24),
        "digest_time": ("Daily digest time HH:MM.", "time", "at {v}"),
    }, (
        ("headline feed", "Latest headlines on a topic.", "get headlines|show the latest stories",
         "topic hours? limit?", "the latest headlines"),
        ("digest signup", "Daily news digest subscription.", "subscribe me to a digest|sign up for a daily digest",
         "topic email digest_time", None),
        ("regional headlines", "Headlines from a country.", "show headlines|get top stories", "source_country limit?",
         "the top stories"),
    )),
    "gaming": ("arcade", ("Gaming session tonight.",), {
        "gamer_tag": ("Player tag.", "user", "for {v}|of {v}"),
        "game": ("Game title.", "title", "in {v}|for {v}"),
        "platform": ("Platform.", "enum:pc,playstation,xbox,switch", "on {v}", "pc"),
        "region": ("Server region.", "enum:eu,na,asia,oce", "in the {v} region", "eu"),
        "party_size": ("Party size.", "int:2:6", "for {v} players"),
    }, (
        ("achievement list", "Achievements of a player in a game.", "list achievements|show trophies",
         "gamer_tag game platform?", "the achievements"),
        ("matchmaking queue", "Queue for a match.", "queue a match|find a match", "game party_size region?", None),
        ("server latency", "Ping to game servers.", "check server latency|measure ping", "game region", None),
    )),
    "pets": ("vet", ("My pet needs care.",), {
        "pet_name": ("Pet name.", "first", "for {v}"),
        "breed": ("Breed.", "breed", "for a {v}"),
        "weight_kg": ("Pet weight kg.", "float:1:60:1", "weighing {v} kg"),
        "vaccine": ("Vaccine.", "enum:rabies,distemper,parvovirus,leptospirosis", "for {v}"),
        "age_years": ("Age in years.", "int:1:18", "aged {v}", 3),
    }, (
        ("vet appointment", "Book a vet appointment.", "book a vet visit|schedule a checkup", "pet_name date time",
         None),
        ("feeding plan", "Daily food portion for a pet.", "plan feeding|work out portions", "breed weight_kg age_years?",
         "the daily portion"),
        ("vaccine due", "Next due date of a vaccine.", "check when a vaccine is due|find the vaccine due date",
         "pet_name vaccine", None),
    )),
    "garden": ("agro", ("Garden planning.", "Farm planning."), {
        "plant": ("Plant name.", "plant", "for {v}|of {v}"),
        "crop": ("Crop.", "crop", "for {v}|of {v}"),
        "hectares": ("Field size in hectares.", "float:0.5:400:1", "on {v} hectares"),
        "soil_ph": ("Soil pH.", "float:4:9:1", "at pH {v}"),
        "zone": ("Hardiness zone.", "int:1:13", "in zone {v}"),
    }, (
        ("watering plan", "Watering schedule for a plant.", "plan watering|make a watering schedule",
         "plant zone?", "the watering plan"),
        ("yield forecast", "Expected crop yield.", "forecast the yield|estimate the harvest", "crop hectares soil_ph?",
         "the yield forecast"),
        ("planting window", "Best planting dates.", "find the planting window|get planting dates", "plant zone",
         "the planting window"),
    )),
    "energy": ("grid", ("Utility bill question.",), {
        "meter_id": ("Meter identifier.", "id:MTR:6", "for meter {v}|on meter {v}"),
        "kwh": ("Energy in kWh.", "int:50:3000", "for {v} kWh"),
        "tariff": ("Tariff.", "enum:flat,time_of_use,green", "on the {v} tariff", "flat"),
        "panel_kw": ("Solar capacity kW.", "float:1:20:1", "with {v} kW of panels"),
        "roof_tilt": ("Roof tilt degrees.", "int:0:60", "at {v} degrees tilt", 30),
    }, (
        ("meter reading", "Latest reading of a meter.", "get the meter reading|read", "meter_id", "the latest reading"),
        ("bill estimate", "Estimate a bill from usage.", "estimate the bill|estimate the cost", "kwh tariff?",
         "the bill estimate"),
        ("solar output", "Annual solar output estimate.", "estimate solar output|project solar generation",
         "city panel_kw roof_tilt?", "the solar output"),
    )),
    "automotive": ("garage", ("Car trouble.", "Car maintenance."), {
        "vin": ("Vehicle identification number.", "id:VIN:8", "for {v}|with VIN {v}"),
        "model": ("Car model.", "car", "for a {v}|of a {v}"),
        "mileage_km": ("Odometer km.", "int:1000:300000", "with {v} km|at {v} km"),
        "service": ("Service type.", "enum:oil_change,tire_rotation,brake_check,inspection", "for a {v}"),
        "fuel_l": ("Fuel in litres.", "float:5:90:1", "on {v} litres"),
        "distance_km": ("Distance driven km.", "int:20:1500", "over {v} km"),
    }, (
        ("recall lookup", "Open recalls for a vehicle.", "check recalls|look up recalls", "vin", "the open recalls"),
        ("service booking", "Book a car service.", "book a service|book the car in", "vin service date", None),
        ("fuel economy", "Fuel economy from a trip.", "compute fuel economy|work out consumption",
         "distance_km fuel_l", "the fuel economy"),
        ("resale value", "Resale value of a car.", "estimate resale value|value my car", "model year mileage_km",
         "the resale value"),
    )),
    "insurance": ("policy", ("Insurance paperwork.",), {
        "policy_no": ("Policy number.", "id:POL:7", "for policy {v}|on policy {v}"),
        "claim_type": ("Claim type.", "enum:theft,water_damage,collision,fire", "for {v}"),
        "incident_date": ("Incident date.", "date", "from {v}|that happened {v}"),
        "coverage": ("Coverage amount.", "int:10000:1000000", "with {v} coverage"),
        "deductible": ("Deductible.", "int:100:5000", "and a {v} deductible", 500),
        "age": ("Age of the policyholder.", "int:18:85", "for a {v}-year-old", 40),
    }, (
        ("file claim", "File an insurance claim.", "file a claim|open a claim", "policy_no claim_type incident_date",
         None),
        ("premium quote", "Quote a premium.", "quote a premium|get a premium quote", "coverage deductible? age?",
         None),
        ("policy details", "Details of a policy.", "show policy details|look up", "policy_no", "the policy details"),
    )),
    "events": ("tix", ("Going out this weekend.",), {
        "event": ("Event name.", "title", "for {v}|to {v}"),
        "tickets": ("Number of tickets.", "int:1:8", "for {v} people|for a group of {v}"),
        "section": ("Seating section.", "enum:floor,balcony,vip,general", "in the {v} section", "general"),
        "venue": ("Venue name.", "title", "at {v}"),
    }, (
        ("buy tickets", "Buy event tickets.", "buy tickets|get tickets", "event tickets section?", None),
        ("venue calendar", "Upcoming events at a venue.", "list upcoming events|show what's on", "venue limit?",
         None),
        ("events nearby", "Events in a city on a date.", "find events|find things to do", "city date", None),
    )),
    "projects": ("tasks", ("Project planning.", "Sprint planning."), {
        "board": ("Board name.", "board", "on the {v} board|in {v}"),
        "task": ("Task title.", "title", "called {v}|titled {v}"),
        "assignee": ("Assignee name.", "person", "to {v}|assigned to {v}"),
        "priority": ("Priority.", "enum:low,medium,high,urgent", "with {v} priority", "medium"),
        "ticket_key": ("Task key.", "id:PRJ-:4", "for {v}|of {v}"),
        "points": ("Story points.", "int:1:13", "worth {v} points"),
        "status": ("Status.", "enum:todo,in_progress,review,done", "to {v}"),
    }, (
        ("create task", "Create a task on a board.", "create a task|add a card", "board task priority? assignee?",
         None),
        ("assign task", "Assign a task.", "assign|hand over", "ticket_key assignee", None),
        ("set status", "Change a task status.", "move|change the status of", "ticket_key status", None),
        ("estimate task", "Set story points.", "estimate|size", "ticket_key points", None),
        ("burndown", "Burndown of a board.", "show the burndown|chart progress", "board", "the burndown"),
    )),
    "support": ("helpdesk", ("Customer issue.",), {
        "customer_email": ("Customer e-mail.", "email", "for {v}|from {v}"),
        "issue": ("Issue category.", "enum:billing,login,shipping,bug,refund", "about {v}|regarding {v}"),
        "ticket_id": ("Ticket identifier.", "id:T:6", "for ticket {v}|on ticket {v}"),
        "urgent": ("Mark urgent.", "bool", "marked urgent~as normal priority", False),
        "rating": ("Satisfaction 1-5.", "int:1:5", "with a rating of {v}"),
    }, (
        ("open ticket", "Open a support ticket.", "open a ticket|log a ticket", "customer_email issue urgent?", None),
        ("escalate ticket", "Escalate a ticket.", "escalate|bump", "ticket_id", None),
        ("close ticket", "Close a ticket with a rating.", "close|resolve", "ticket_id rating", None),
    )),
    "networking": ("netops", ("Network troubleshooting.",), {
        "domain": ("Domain name.", "domain", "for {v}|of {v}"),
        "record": ("DNS record type.", "enum:A,AAAA,MX,TXT,CNAME", "{v} records", "A"),
        "ip": ("IP address.", "ip", "for {v}|of {v}"),
        "port": ("TCP port.", "int:1:65535", "on port {v}"),
        "timeout_s": ("Timeout seconds.", "int:1:30", "with a {v} second timeout", 5),
    }, (
        ("dns lookup", "Resolve DNS records.", "resolve|look up DNS for", "domain record?", None),
        ("port check", "Check a TCP port is open.", "check the port|probe", "ip port timeout_s?", None),
        ("whois record", "WHOIS record of a domain.", "get the WHOIS record|look up the registrant", "domain",
         "the WHOIS record"),
        ("tls expiry", "Certificate expiry of a domain.", "check certificate expiry|check the TLS certificate",
         "domain port?", "the certificate expiry"),
    )),
    "timezone": ("clock", ("Coordinating a call.",), {
        "zone": ("IANA time zone.", "timezone", "in {v}|for {v}"),
        "other_zone": ("Second IANA time zone.", "timezone", "and {v}"),
        "alarm_time": ("Alarm time HH:MM.", "time", "for {v}|at {v}"),
        "label": ("Alarm label.", "title", "labelled {v}", "Alarm"),
        "seconds": ("Countdown seconds.", "int:10:3600", "for {v} seconds"),
    }, (
        ("zone offset", "Offset between two time zones.", "compare time zones|get the offset", "zone other_zone",
         "the offset"),
        ("local clock", "Current time in a zone.", "get the local time|check the time", "zone", "the local time"),
        ("alarm create", "Set an alarm.", "set an alarm|wake me", "alarm_time label?", None),
        ("countdown", "Start a countdown timer.", "start a timer|count down", "seconds", None),
    )),
    "fitness": ("gym", ("Training plan.",), {
        "exercise": ("Exercise.", "exercise", "of {v}|for {v}"),
        "sets": ("Number of sets.", "int:1:8", "for {v} sets|{v} sets"),
        "reps": ("Repetitions per set.", "int:3:30", "of {v} reps"),
        "load_kg": ("Load in kg.", "float:2.5:200:1", "at {v} kg", 0.0),
        "goal": ("Training goal.", "enum:strength,endurance,mobility,fat_loss", "for {v}"),
        "weeks": ("Plan length weeks.", "int:2:16", "over {v} weeks", 4),
    }, (
        ("log workout", "Log an exercise.", "log|record", "exercise sets reps load_kg?", None),
        ("training plan", "Create a training plan.", "create a plan|build a program", "goal weeks?", None),
        ("one rep max", "Estimate one-rep max.", "estimate my one-rep max|compute the 1RM", "load_kg reps",
         "my one-rep max"),
    )),
    "photo": ("image", ("Editing photos.",), {
        "image": ("Image path.", "file", "{v}"),
        "width_px": ("Width in pixels.", "int:64:4096", "to {v} pixels wide|to width {v}"),
        "keep_aspect": ("Keep aspect ratio.", "bool", "keeping the aspect ratio~stretching freely", True),
        "filter": ("Filter name.", "enum:mono,sepia,vivid,fade", "with the {v} filter"),
        "quality": ("JPEG quality 1-100.", "int:30:100", "at quality {v}", 85),
    }, (
        ("resize image", "Resize an image.", "resize|scale", "image width_px keep_aspect?", None),
        ("apply filter", "Apply a filter to an image.", "filter|edit", "image filter", None),
        ("compress image", "Compress an image.", "compress|shrink", "image quality?", None),
    )),
    "genealogy": ("ancestry", ("Family history project.",), {
        "surname": ("Family surname.", "last", "for the surname {v}|for the {v} family"),
        "birth_year": ("Birth year.", "int:1800:1990", "born in {v}"),
        "generations": ("Generations to include.", "int:2:8", "across {v} generations", 3),
        "region": ("Region of records.", "country", "in {v}"),
    }, (
        ("record search", "Search historical records.", "search records|look for records",
         "surname birth_year region?", None),
        ("family tree", "Build a family tree.", "build a family tree|draw the tree", "surname generations?", None),
    )),
    "charity": ("giving", ("Year-end giving.",), {
        "cause": ("Cause area.", "enum:education,health,climate,animals,arts", "to {v}|for {v}"),
        "amount": ("Donation amount.", "int:5:5000", "of {v} dollars|worth {v} dollars"),
        "monthly": ("Repeat monthly.", "bool", "every month~once", False),
        "receipt_email": ("Receipt e-mail.", "email", "with a receipt to {v}"),
    }, (
        ("donate", "Make a donation.", "donate|give", "cause amount monthly? receipt_email?", None),
        ("tax receipt", "Tax receipts for a year.", "get my tax receipts|download donation receipts",
         "year receipt_email", None),
    )),
}

_GENERIC_IRRELEVANT = (
    "Write a short poem about autumn leaves.",
    "Tell me a joke about penguins.",
    "Explain how rainbows form, in two sentences.",
    "What is a good name for a golden retriever puppy?",
    "Summarise the causes of the French Revolution.",
    "Give me three tips for falling asleep faster.",
    "What rhymes with orange?",
    "Proofread this: 'their going to the park tomorow'.",
    "Why is the sky blue?",
    "Suggest a theme for a ten-year-old's birthday party.",
    "How do I politely decline a wedding invitation?",
    "Describe the taste of a mango to someone who has never had one.",
)

# ------------------------------------------------------------------------------------------ building specs


@dataclass(frozen=True)
class _Param:
    name: str
    desc: str
    gen: str
    phrases: tuple[str, ...]  # booleans: (when true, when false)
    required: bool
    default: Any

    @property
    def type(self) -> str:
        return _param_type(self.gen)


@dataclass(frozen=True)
class _Function:
    name: str
    domain: str
    description: str
    actions: tuple[str, ...]
    noun: str | None
    params: tuple[_Param, ...]

    @property
    def free_order(self) -> bool:
        """Whether the required phrases read right in any order (none is a bare value or an 'and ...' tail)."""
        return not any(
            ph.startswith(("and ", "{v}", "'{v}'")) for p in self.params if p.required for ph in p.phrases
        )

    def spec(self) -> dict[str, Any]:
        """The BFCL-style spec."""
        props: dict[str, Any] = {}
        for p in self.params:
            node: dict[str, Any] = {"type": p.type, "description": p.desc}
            kind, _, rest = p.gen.partition(":")
            if kind == "enum":
                node["enum"] = rest.split(",")
            if kind == "list":
                node["items"] = {"type": _param_type(rest.split(":", 2)[2])}
            if not p.required:
                shown = _text(p.default) if p.default not in ([], "") else "none"
                node["description"] = f"{p.desc} Default: {shown}."
                node["default"] = p.default
            props[p.name] = node
        required = [p.name for p in self.params if p.required]
        return {"name": self.name, "description": self.description,
                "parameters": {"type": "dict", "properties": props, "required": required}}


def _camel(words: Sequence[str]) -> str:
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _function_name(domain: str, alias: str, words: str) -> tuple[str, bool]:
    """A stable name in one of several styles (snake, dotted, camel); True when params are camelCase too."""
    parts = words.split()
    style = zlib.crc32(f"{domain}/{words}".encode()) % 6
    if style in (0, 1):
        return "_".join(parts), False
    if style == 2:
        return f"{alias}.{'_'.join(parts)}", False
    if style == 3:
        return _camel(parts), True
    if style == 4:
        return f"{alias}.{_camel(parts)}", False
    return "_".join(parts if parts[0] == alias else [alias, *parts]), False


def _build_catalogue() -> tuple[_Function, ...]:
    out: list[_Function] = []
    seen: set[str] = set()
    for domain, (alias, _ctx, own, fns) in _DOMAINS.items():
        for words, desc, actions, tokens, noun in fns:
            name, camel_params = _function_name(domain, alias, words)
            if name in seen:
                raise ValueError(f"duplicate function name {name}")
            seen.add(name)
            params = []
            for token in tokens.split():
                key = token.rstrip("?")
                required = not token.endswith("?")
                raw = own.get(key) or _SHARED[key]
                pdesc, gen, phrase = raw[:3]
                if required:
                    default = None
                elif len(raw) > 3:
                    default = raw[3]
                else:
                    default = _fallback_default(gen)
                pname = _camel(key.split("_")) if camel_params else key
                phrases = tuple(phrase.split("~")) if gen == "bool" else tuple(phrase.split("|"))
                params.append(_Param(pname, pdesc, gen, phrases, required, default))
            out.append(_Function(name, domain, desc, tuple(actions.split("|")), noun, tuple(params)))
    return tuple(out)


def _fallback_default(gen: str) -> Any:
    kind, _, rest = gen.partition(":")
    if kind == "bool":
        return False
    if kind == "enum":
        return rest.split(",")[0]
    if kind in ("int", "year"):
        return int(rest.split(":")[0]) if rest else 2024
    if kind == "float":
        return float(rest.split(":")[0])
    if kind == "list":
        return []
    return ""


CATALOGUE: tuple[_Function, ...] = _build_catalogue()
_BY_DOMAIN: dict[str, tuple[_Function, ...]] = {
    d: tuple(f for f in CATALOGUE if f.domain == d) for d in _DOMAINS
}

# ------------------------------------------------------------------------------------------ rendering


def _text(value: Any) -> str:
    """A value as the request writes it (numbers as digits, lists joined with commas and 'and')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        items = [_text(v) for v in value]
        if not items:
            return ""
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return str(value)


def _phrase(r: random.Random, param: _Param, value: Any) -> str:
    if param.type == "boolean":
        return param.phrases[0] if value else param.phrases[1]
    return r.choice(param.phrases).replace("{v}", _text(value))


def _args_text(r: random.Random, fn: _Function, args: dict[str, Any], keys: Sequence[str] | None = None) -> str:
    """The phrases stating `args` (those in `keys`, default all), required ones first, optional shuffled in."""
    by_name = {p.name: p for p in fn.params}
    names = [n for n in args if keys is None or n in keys]
    required = [n for n in names if by_name[n].required]
    optional = [n for n in names if not by_name[n].required]
    r.shuffle(optional)
    if len(required) > 1 and fn.free_order and r.random() < 0.25:  # sometimes another order of the required ones
        r.shuffle(required)
    text = " ".join(_phrase(r, by_name[n], args[n]) for n in required + optional)
    return text.removeprefix("and ") if keys is not None else text


_FRAMES = (
    "{V}.", "Please {v}.", "Can you {v}?", "Could you please {v}?", "I need to {v}.", "I'd like to {v}.",
    "Help me {v}.", "{ctx} {V}.", "{ctx} Can you {v}?", "{ctx} Please {v}.", "{v}", "Hey, {v}.",
    "Would you {v}? Thanks.", "Quick one: {v}.", "I want you to {v}.",
)
_NOUN_FRAMES = (
    "What is {n}?", "What's {n}?", "Tell me {n}.", "I want to know {n}.", "{ctx} What is {n}?",
    "Could you tell me {n}?", "Show me {n}.",
)
_STATEMENT_FRAMES = tuple(f for f in _FRAMES if f.endswith(".") or f == "{v}")
_SINGULAR_S = ("status", "mass", "index", "analysis", "progress")


def _plural(noun_phrase: str) -> bool:
    """Whether the head noun (the word after 'the'/'my', up to a preposition) is plural, roughly."""
    words = noun_phrase.split()
    stops = {"in", "for", "of", "on", "at", "from", "to", "with", "by", "over", "between"}
    head = ""
    for word in words[1:]:
        if word in stops:
            break
        head = word
    return head.endswith("s") and not head.endswith(_SINGULAR_S)


_PARALLEL_JOINS = (", and also {s}", ", and then {s}", "; also {s}", ", plus {s}", ", and the same {s}",
                   " and again {s}")
_MULTI_JOINS = (", and also ", ", then ", "; after that, ", ", and ", ". Also, ", ". Then ")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _frame(r: random.Random, domain: str, vp: str, noun_phrase: str | None = None, *, statement: bool = False) -> str:
    """The request: a verb phrase (or, sometimes, a noun phrase) in an imperative, question, polite or terse frame;
    `statement`: only frames that end the phrase with a full stop (for phrases of several sentences)."""
    ctx = r.choice(_DOMAINS[domain][1])
    if noun_phrase is not None and r.random() < 0.35:
        template = r.choice(_NOUN_FRAMES)
        if _plural(noun_phrase):
            template = template.replace("What is", "What are").replace("What's", "What are")
        return template.replace("{ctx}", ctx).replace("{n}", noun_phrase)
    template = r.choice(_STATEMENT_FRAMES if statement else _FRAMES)
    return template.replace("{ctx}", ctx).replace("{V}", _cap(vp)).replace("{v}", vp)


def _noun_phrase(r: random.Random, fn: _Function, args_text: str) -> str | None:
    return f"{fn.noun} {args_text}".strip() if fn.noun else None


def _sample_args(vals: _Values, fn: _Function, optional_share: float = 0.4) -> dict[str, Any]:
    """Every required parameter, and each optional one with chance `optional_share` (values never the default)."""
    args: dict[str, Any] = {}
    for p in fn.params:
        if p.required or vals.rng.random() < optional_share:
            value = vals.sample(p.gen)
            for _ in range(10):
                if p.required or value != p.default:
                    break
                value = vals.sample(p.gen)
            if not p.required and value == p.default:
                continue
            args[p.name] = value
    return args


def _ground_truth(fn: _Function, args: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for p in fn.params:
        entry[p.name] = [args[p.name]] if p.name in args else [""]
    return {fn.name: entry}


# ------------------------------------------------------------------------------------------ categories


class _Builder:
    def __init__(self, seed: int, max_calls: int = 3) -> None:
        self.max_calls = max_calls  # calls in a parallel / parallel_multiple row: 2..max_calls
        self.rng = random.Random(seed)
        self.vals = _Values(random.Random(seed * 7919 + 17))

    def pick(self, exclude: set[str] | None = None) -> _Function:
        exclude = exclude or set()
        while True:
            domain = self.rng.choice(tuple(_DOMAINS))  # domains uniformly, then a function
            fn = self.rng.choice(_BY_DOMAIN[domain])
            if fn.name not in exclude:
                return fn

    def distractors(self, target: _Function, count: int) -> list[_Function]:
        out: list[_Function] = []
        names = {target.name}
        same = [f for f in _BY_DOMAIN[target.domain] if f.name not in names]
        self.rng.shuffle(same)
        for _ in range(count):
            fn = same.pop() if same and self.rng.random() < 0.5 else self.pick(names)
            if fn.name not in names:
                names.add(fn.name)
                out.append(fn)
        return out

    def single_request(self, fn: _Function, args: dict[str, Any]) -> str:
        r = self.rng
        text = _args_text(r, fn, args)
        vp = f"{r.choice(fn.actions)} {text}".strip()
        return _frame(r, fn.domain, vp, _noun_phrase(r, fn, text))

    def simple(self) -> tuple[list[_Function], list[tuple[_Function, dict[str, Any]]], str]:
        fn = self.pick()
        args = _sample_args(self.vals, fn)
        return [fn], [(fn, args)], self.single_request(fn, args)

    def multiple(self) -> tuple[list[_Function], list[tuple[_Function, dict[str, Any]]], str]:
        fn = self.pick()
        offered = [fn, *self.distractors(fn, self.rng.randint(1, 3))]
        self.rng.shuffle(offered)
        args = _sample_args(self.vals, fn)
        return offered, [(fn, args)], self.single_request(fn, args)

    def parallel(self) -> tuple[list[_Function], list[tuple[_Function, dict[str, Any]]], str]:
        r = self.rng
        while True:
            fn = self.pick()
            varying = [p for p in fn.params if p.required and p.type != "boolean"]
            if varying:
                break
        base = _sample_args(self.vals, fn)
        count = r.randint(2, self.max_calls)
        k = 1 if len(varying) == 1 or r.random() < 0.6 else 2
        vary = [p.name for p in r.sample(varying, k)]
        calls = [base]
        for _ in range(200):
            if len(calls) == count:
                break
            nxt = dict(base)
            for name in vary:
                nxt[name] = self.vals.sample(next(p.gen for p in fn.params if p.name == name))
            if all(any(nxt[n] != c[n] for n in vary) for c in calls):
                calls.append(nxt)
        text = _args_text(r, fn, base)
        for extra in calls[1:]:
            text += r.choice(_PARALLEL_JOINS).replace("{s}", _args_text(r, fn, extra, vary))
        vp = f"{r.choice(fn.actions)} {text}"
        return [fn], [(fn, c) for c in calls], _frame(r, fn.domain, vp, _noun_phrase(r, fn, text))

    def parallel_multiple(self) -> tuple[list[_Function], list[tuple[_Function, dict[str, Any]]], str]:
        r = self.rng
        first = self.pick()
        others = self.distractors(first, r.randint(1, 3))
        offered = [first, *others]
        n_calls = r.randint(2, self.max_calls)
        used = [first, others[0]] if len(others) >= 1 else [first]
        while len(used) < n_calls:
            used.append(r.choice(offered))
        r.shuffle(used)
        calls: list[tuple[_Function, dict[str, Any]]] = []
        for fn in used:
            for _ in range(20):
                args = _sample_args(self.vals, fn, optional_share=0.3)
                if all(not (f is fn and a == args) for f, a in calls):
                    break
            calls.append((fn, args))
        clauses = [f"{r.choice(fn.actions)} {_args_text(r, fn, args)}".strip() for fn, args in calls]
        vp = clauses[0]
        for clause in clauses[1:]:
            vp += r.choice(_MULTI_JOINS) + clause
        r.shuffle(offered)
        return offered, calls, _frame(r, calls[0][0].domain, vp, statement=". " in vp)

    def irrelevance(self) -> tuple[list[_Function], list[tuple[_Function, dict[str, Any]]], str]:
        r = self.rng
        roll = r.random()
        target = self.pick()
        if roll < 0.12:
            offered = [self.pick()]
            offered += self.distractors(offered[0], r.randint(0, 2))
            return offered, [], r.choice(_GENERIC_IRRELEVANT)
        if roll < 0.55:  # near miss: same domain, the asked capability not offered
            pool = [f for f in _BY_DOMAIN[target.domain] if f.name != target.name]
            r.shuffle(pool)
            offered = pool[: r.randint(1, min(3, len(pool)))]
        else:
            offered = [self.pick({target.name})]
            offered += [f for f in self.distractors(offered[0], r.randint(0, 2)) if f.name != target.name]
        args = _sample_args(self.vals, target)
        return offered, [], self.single_request(target, args)


def _quotas(n: int, mix: dict[str, float]) -> list[str]:
    unknown = set(mix) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories in mix: {sorted(unknown)}")
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("mix weights must sum to more than 0")
    exact = {c: n * mix.get(c, 0.0) / total for c in CATEGORIES}
    counts = {c: math.floor(v) for c, v in exact.items()}
    for c in sorted(CATEGORIES, key=lambda c: counts[c] - exact[c])[: n - sum(counts.values())]:
        counts[c] += 1
    return [c for c in CATEGORIES for _ in range(counts[c])]


def generate_rows(
    n: int, *, seed: int = 0, mix: dict[str, float] | None = None, max_calls: int = 3
) -> list[dict[str, Any]]:
    """`n` rows in BFCL's format plus `calls`, `category`, `domain`; the same rows for the same seed.
    `max_calls`: the most calls of a parallel or parallel_multiple row (at least 2; BFCL's rows have up to 4)."""
    if max_calls < 2:
        raise ValueError("max_calls must be at least 2")
    builder = _Builder(seed, max_calls)
    order = _quotas(n, mix or DEFAULT_MIX)
    builder.rng.shuffle(order)
    rows: list[dict[str, Any]] = []
    for index, category in enumerate(order):
        offered, calls, request = getattr(builder, category)()
        rows.append({
            "id": f"maaza_fc_{category}_{index:06d}",
            "category": category,
            "question": [[{"role": "user", "content": request}]],
            "functions": [fn.spec() for fn in offered],
            "calls": [{"name": fn.name, "arguments": args} for fn, args in calls],
            "ground_truth": [_ground_truth(fn, args) for fn, args in calls] if category != "irrelevance" else None,
            "domain": (calls[0][0] if calls else offered[0]).domain,
        })
    return rows


def write_rows(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSON lines, atomically."""
    write_jsonl(path, rows)


# ------------------------------------------------------------------------------------------ leak guard


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _shingles(text: str, k: int = 5) -> set[str]:
    return {text[i : i + k] for i in range(max(1, len(text) - k + 1))}


def _request_text(row: dict[str, Any]) -> str:
    return "\n".join(m.get("content", "") for turn in row.get("question", []) for m in turn if m.get("role") == "user")


def bfcl_overlap(rows: Sequence[dict[str, Any]], bfcl_dir: str | Path, *, threshold: float = 0.8) -> dict[str, Any]:
    """Exact and near-duplicate (character 5-gram Jaccard >= threshold) question matches, and exact function-name
    matches, of `rows` against every BFCL `*.jsonl` in `bfcl_dir`.

    Near duplicates use prefix filtering over an inverted shingle index: a pair reaching the threshold must
    share one of the query's rarest `|A| - ceil(t|A|) + 1` shingles, so only those postings are visited.
    """
    files = sorted(Path(bfcl_dir).glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no BFCL *.jsonl files in {bfcl_dir}")
    ref_ids: list[str] = []
    ref_sets: list[set[str]] = []
    exact_index: dict[str, str] = {}
    names: set[str] = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            ref = json.loads(line)
            norm = _normalise(_request_text(ref))
            exact_index.setdefault(norm, str(ref.get("id")))
            ref_ids.append(str(ref.get("id")))
            ref_sets.append(_shingles(norm))
            names.update(str(f.get("name")) for f in ref.get("functions", []))
    postings: dict[str, list[int]] = defaultdict(list)
    for i, shingles in enumerate(ref_sets):
        for s in shingles:
            postings[s].append(i)
    exact: list[dict[str, str]] = []
    near: list[dict[str, Any]] = []
    name_hits: set[str] = set()
    best = 0.0
    for row in rows:
        norm = _normalise(_request_text(row))
        if norm in exact_index:
            exact.append({"id": str(row.get("id")), "bfcl_id": exact_index[norm]})
        query = _shingles(norm)
        prefix = len(query) - math.ceil(threshold * len(query)) + 1
        rare = sorted(query, key=lambda s: (len(postings.get(s, ())), s))[:prefix]
        candidates = Counter(i for s in rare for i in postings.get(s, ()))
        for i in candidates:
            inter = len(query & ref_sets[i])
            jac = inter / (len(query) + len(ref_sets[i]) - inter)
            best = max(best, jac)
            if jac >= threshold:
                near.append({"id": str(row.get("id")), "bfcl_id": ref_ids[i], "jaccard": round(jac, 3)})
        name_hits.update(str(f.get("name")) for f in row.get("functions", []) if f.get("name") in names)
    return {
        "rows": len(rows),
        "bfcl_questions": len(ref_ids),
        "bfcl_functions": len(names),
        "exact_question_matches": exact,
        "near_duplicate_matches": near,
        "function_name_matches": sorted(name_hits),
        "max_candidate_jaccard": round(best, 3),
        "threshold": threshold,
    }


# ------------------------------------------------------------------------------------------ CLI


def main(argv: Sequence[str] | None = None) -> int:
    """`--n`, `--seed`, `--out`: generate rows and write them as JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m maaza.tasks.funccall.generator", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4000, help="number of rows (default 4000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", required=True, help="output JSONL path")
    parser.add_argument("--max-calls", type=int, default=3, help="most calls of a parallel row (default 3)")
    parser.add_argument("--mix", default=None,
                        help="category weights, e.g. simple=0.2,parallel=0.3,irrelevance=0.3 (default: DEFAULT_MIX)")
    args = parser.parse_args(argv)
    mix = None
    if args.mix:
        try:
            mix = {name: float(weight) for name, weight in (item.split("=", 1) for item in args.mix.split(","))}
        except ValueError:
            parser.error(f"--mix: expected name=weight pairs separated by commas, got {args.mix!r}")
    try:
        rows = generate_rows(args.n, seed=args.seed, mix=mix, max_calls=args.max_calls)
    except ValueError as exc:
        parser.error(str(exc))
    write_rows(args.out, rows)
    counts = Counter(row["category"] for row in rows)
    print(f"wrote {len(rows)} rows to {args.out}: " + ", ".join(f"{c} {counts[c]}" for c in CATEGORIES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
