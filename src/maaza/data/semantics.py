"""Field meaning from its key name: realistic values for `network_name`, `price`, `zip_code`, ...

`classify_string(ctx)` maps a field (its key, parent key, sibling keys, description) to a value kind;
`ValueMaker` turns kinds into values with a seeded `random.Random` plus Faker (names, streets, cities,
companies, e-mails, URLs, IPs). Numbers get a `NumberSpec` (range and decimals) by meaning that the
record generator then intersects with the schema's bounds.
"""

from __future__ import annotations

import functools
import random
import re
import string
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from maaza.data import vocab

_SPLIT = re.compile(r"[^0-9A-Za-z]+|(?<=[a-z0-9])(?=[A-Z])")
_COUNTRIES = ("United States", "Canada", "Mexico", "Brazil", "United Kingdom", "Germany", "France", "Spain",
              "Italy", "Netherlands", "Sweden", "Poland", "India", "Japan", "Singapore", "Australia", "Kenya",
              "South Africa", "Ireland", "New Zealand", "Switzerland", "Portugal")
_HTTP_CODES = (200, 200, 201, 202, 204, 301, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503)
_MODELS = ("TX-400", "EcoSense 3", "HX-12 Pro", "Model S2", "AirLink 5", "ZB-Mini", "C920", "SmartHub 2",
           "NanoCam V3", "T-1000X")


@dataclass(frozen=True)
class FieldContext:
    """Where a value sits: its key, the parent object's key, the sibling keys, the schema description."""

    key: str = ""
    parent: str = ""
    siblings: frozenset[str] = frozenset()
    description: str = ""


@dataclass(frozen=True)
class NumberSpec:
    """A plausible range for a number, with how many decimals it is written with (0 = integral)."""

    low: float
    high: float
    decimals: int = 2
    choices: tuple[float, ...] = ()
    money: bool = False


def tokens(key: str) -> tuple[str, ...]:
    """Lower-case words of a key (snake_case, camelCase, kebab), plurals singularised: `zipCodes` -> (zip, code)."""
    return tuple(_singular(part.lower()) for part in _SPLIT.split(key) if part)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "os", "as")):
        return word[:-1]
    return word


def _has(toks: tuple[str, ...], *words: str) -> bool:
    return any(word in toks for word in words)


_PERSON_CONTEXT = {"name", "first_name", "last_name", "email", "employee_id", "full_name", "phone"}
_COMPANY_WORDS = ("company", "merchant", "vendor", "supplier", "organization", "organisation", "org", "employer",
                  "business", "store", "shop", "retailer", "payee", "client", "customer_company", "firm")
_TEXT_WORDS = ("message", "body", "description", "note", "comment", "summary", "detail", "reason", "text",
               "content", "review", "feedback", "remark", "instruction", "bio", "about", "explanation", "memo")


@functools.lru_cache(maxsize=4096)
def classify_string(ctx: FieldContext) -> str:
    """The value kind for a string field (see `STRING_MAKERS` for the full list)."""
    toks = tokens(ctx.key)
    ptoks = tokens(ctx.parent)
    sib = {"_".join(tokens(s)) for s in ctx.siblings}
    key = "_".join(toks)
    desc = ctx.description.lower()
    last = toks[-1] if toks else ""
    if not toks:
        return "words"
    if _has(toks, "email", "mail") or key == "e_mail":
        return "email"
    if _has(toks, "phone", "tel", "telephone", "mobile", "fax", "cell"):
        return "phone"
    if _has(toks, "url", "uri", "link", "website", "homepage", "href", "endpoint", "webhook", "callback"):
        return "url"
    if _has(toks, "ipv6"):
        return "ipv6"
    if _has(toks, "ip", "ipv4"):
        return "ipv4"
    if _has(toks, "mac"):
        return "mac"
    if _has(toks, "hostname", "host", "domain", "fqdn", "server"):
        return "hostname"
    if _has(toks, "uuid", "guid"):
        return "uuid"
    if last in ("id", "identifier") and key not in ("message_id",):
        return "identifier"
    if key in ("last4", "last_four", "card_last4", "pin"):
        return "last4"
    if key in ("card_brand", "card_type", "network_brand"):
        return "card_brand"
    if key in ("wallet", "payment_method", "wallet_provider"):
        return "wallet"
    if _has(toks, "timezone", "tz") or "timezone" in desc:
        return "timezone"
    if _has(toks, "currency"):
        return "currency"
    if _has(toks, "language", "lang") or "language code" in desc:
        return "language"
    if key == "locale":
        return "locale"
    if key in ("date_of_birth", "dob", "birthday", "birth_date", "birthdate"):
        return "date_birth"
    if last in ("at", "timestamp", "datetime", "seen", "triggered", "modified") or key in ("last_updated", "time_stamp"):
        return "datetime"
    if last == "date" or key in ("day", "deadline"):
        return "datetime" if "time" in desc else "date"
    if key == "time" or last == "time":
        return "clock"
    if key == "year":
        return "year"
    return _classify_named(toks, ptoks, sib, key, desc, last)


def _classify_named(
    toks: tuple[str, ...], ptoks: tuple[str, ...], sib: set[str], key: str, desc: str, last: str
) -> str:
    has_name = "name" in toks
    if _has(toks, "first", "given") and has_name:
        return "first_name"
    if key in ("last_name", "surname", "family_name"):
        return "last_name"
    if key == "middle_name":
        return "first_name"
    if key in ("username", "user_name", "login", "handle", "screen_name", "nickname"):
        return "username"
    if (_has(toks, "network") and has_name) or _has(toks, "ssid", "wifi"):
        return "network_name"
    if _has(toks, "device") and has_name:
        return "device_name"
    if (_has(toks, "product") and (has_name or len(toks) == 1)) or key in ("item_name", "item", "product_title"):
        return "product"
    if _has(toks, "facility", "hospital", "clinic", "lab", "laboratory") and (has_name or len(toks) == 1):
        return "facility"
    if _has(toks, "pharmacy"):
        return "pharmacy"
    if _has(toks, "bank"):
        return "bank"
    if _has(toks, "insurer") or (key == "provider" and _has(ptoks, "insurance")):
        return "insurer"
    if _has(toks, "manufacturer", "brand", "make"):
        return "manufacturer"
    if _has(toks, *_COMPANY_WORDS) and (has_name or len(toks) == 1):
        return "company"
    if has_name and len(toks) == 1 and _has(ptoks, *_COMPANY_WORDS, "facility", "pharmacy", "bank", "lab"):
        return {"facility": "facility", "pharmacy": "pharmacy", "bank": "bank", "lab": "facility"}.get(
            next((t for t in ptoks if t in ("facility", "pharmacy", "bank", "lab")), ""), "company")
    if _has(toks, "event", "conference") and (has_name or _has(toks, "title") or len(toks) == 1):
        return "event"
    if _has(toks, "campaign"):
        return "campaign"
    if _has(toks, "rule") and (has_name or len(toks) == 1):
        return "rule_name"
    if _has(toks, "project") and (has_name or len(toks) == 1):
        return "project"
    if _has(toks, "team") and (has_name or len(toks) == 1):
        return "team"
    if _has(toks, "department", "dept", "division"):
        return "department"
    if _has(toks, "medication", "drug", "medicine"):
        return "medication"
    if _has(toks, "diagnosis", "condition") and (has_name or len(toks) == 1):
        return "diagnosis"
    if _has(toks, "test") and has_name:
        return "lab_test_name"
    if key in ("test_type", "panel"):
        return "lab_test_code"
    if _has(toks, "physician", "doctor") or (has_name and len(toks) == 1 and _has(ptoks, "provider", "physician")):
        return "doctor"
    if _has(toks, "meeting") and (_has(toks, "title", "topic") or len(toks) == 1):
        return "meeting_title"
    if _has(toks, "specialty", "speciality"):
        return "specialty"
    if key == "role_in_project" or (key == "role" and _has(ptoks, "project")):
        return "project_role"
    if key == "role" and _has(ptoks, "attendee", "participant", "invitee"):
        return "meeting_role"
    if _has(toks, "job", "occupation", "position", "role") or (
        key == "title" and (sib & _PERSON_CONTEXT or _has(ptoks, "head", "employee", "member", "lead", "manager"))
    ):
        return "job_title"
    if key in ("assigned_to", "assignee", "owner", "author", "manager", "contact", "driver", "approved_by",
               "requested_by", "reported_by", "sender_name", "recipient_name", "contact_name", "full_name"):
        return "person"
    if key in ("created_by", "updated_by", "modified_by"):
        return "person_or_user"
    if has_name and _has(toks, "category"):
        return "product_category"
    if has_name and _has(toks, "city", "town"):
        return "city"
    if has_name:
        return "person"
    return _classify_place(toks, ptoks, sib, key, desc, last)


_ADDRESS_SIBLINGS = {"city", "zip", "zip_code", "postal_code", "postcode", "street", "country", "address"}


def _classify_place(
    toks: tuple[str, ...], ptoks: tuple[str, ...], sib: set[str], key: str, desc: str, last: str
) -> str:
    if key in ("street", "street_address", "address_line", "address_line1", "address1", "line1", "street_line"):
        return "street"
    if key in ("address", "full_address", "mailing_address", "billing_address", "shipping_address", "home_address"):
        return "address"
    if _has(toks, "city", "town"):
        return "city"
    if key in ("state", "province", "state_province") and (sib & _ADDRESS_SIBLINGS or _has(ptoks, "address")):
        return "us_state"
    if key in ("county",):
        return "city"
    if _has(toks, "country") and _has(toks, "code"):
        return "country_code"
    if _has(toks, "country", "nation"):
        return "country"
    if key in ("zip", "zip_code", "zipcode", "postal_code", "postcode", "postal"):
        return "postcode"
    if _has(toks, "region", "territory"):
        return "region"
    if _has(toks, "building"):
        return "building"
    if _has(toks, "floor"):
        return "floor"
    if _has(toks, "room"):
        return "room"
    if _has(toks, "location", "venue", "place"):
        return "location"
    return _classify_codes(toks, ptoks, sib, key, desc, last)


def _classify_codes(
    toks: tuple[str, ...], ptoks: tuple[str, ...], sib: set[str], key: str, desc: str, last: str
) -> str:
    if _has(toks, "icd10", "icd"):
        return "icd10"
    if key == "cost_center":
        return "identifier"
    if key in ("test_code", "loinc", "loinc_code"):
        return "lab_code"
    if _has(toks, "coupon", "promo", "voucher") or key == "discount_code":
        return "coupon"
    if key == "message_id":
        return "message_id"
    if key in ("account_number", "account_no", "iban"):
        return "account_number"
    if key in ("routing_number", "aba", "routing"):
        return "routing_number"
    if key in ("card_number", "card"):
        return "card_number"
    if key == "tracking_number":
        return "tracking_number"
    if key in ("sku", "item_code", "product_code"):
        return "sku"
    if _has(toks, "serial"):
        return "serial"
    if _has(toks, "token", "secret", "password", "api_key", "hash", "checksum"):
        return "token"
    if _has(toks, "id", "identifier", "number", "no", "num", "code", "ref", "reference") or last == "key":
        return "identifier"
    if _has(toks, "version"):
        return "version"
    if _has(toks, "model"):
        return "model"
    if _has(toks, "filename", "file", "attachment"):
        return "filename"
    if key in ("content_type", "mime_type", "mimetype", "media_type"):
        return "mime"
    return _classify_enums(toks, ptoks, sib, key, desc, last)


def _classify_enums(
    toks: tuple[str, ...], ptoks: tuple[str, ...], sib: set[str], key: str, desc: str, last: str
) -> str:
    if key in ("status", "state") or last == "status":
        return "status"
    if _has(toks, "priority"):
        return "priority"
    if _has(toks, "severity", "urgency"):
        return "severity"
    if key == "level" or key == "log_level":
        return "log_level" if sib & {"message", "timestamp", "source", "logger"} else "priority"
    if key == "action_type" or (key == "action" and _has(ptoks, "rule", "automation")):
        return "action_type"
    if key in ("alert_type", "event_type"):
        return "alert_type"
    if key == "account_type":
        return "account_type"
    if _has(toks, "mode"):
        return "operating_mode"
    if _has(toks, "category", "genre", "segment"):
        if sib & {"amount", "merchant_name", "merchant", "balance_after", "transaction_id"}:
            return "spend_category"
        return "product_category"
    if _has(toks, "gender", "sex"):
        return "gender"
    if _has(toks, "color", "colour"):
        return "color"
    if key == "theme":
        return "theme"
    if _has(toks, "dosage", "dose"):
        return "dosage"
    if _has(toks, "frequency"):
        return "frequency"
    if _has(toks, "duration", "period"):
        return "duration"
    if _has(toks, "complaint", "symptom"):
        return "complaint"
    if _has(toks, "history", "hpi"):
        return "hpi_note"
    if _has(toks, "examination", "exam", "assessment", "finding"):
        return "exam_note"
    if key in ("parameter", "analyte", "measure", "metric"):
        return "lab_parameter"
    if key in ("unit", "units", "uom", "unit_of_measure"):
        return "lab_unit" if sib & {"parameter", "reference_range", "analyte"} else "unit"
    if _has(toks, "range") and _has(toks, "reference", "normal"):
        return "reference_range"
    if _has(toks, "tag", "label", "keyword", "hashtag"):
        return "tag"
    if _has(toks, "skill", "expertise", "competency"):
        return "skill"
    if _has(toks, "capability", "feature"):
        return "capability"
    if _has(toks, "preference", "interest", "hobby"):
        return "interest"
    if _has(toks, "dietary", "diet", "allergy", "restriction"):
        return "dietary"
    if _has(toks, "focus"):
        return "focus_area"
    if key == "source" or _has(toks, "service", "logger", "module", "component"):
        return "service"
    if key == "field":
        return "error_field"
    if _has(toks, "jurisdiction"):
        return "jurisdiction"
    if _has(toks, "purpose"):
        return "purpose"
    if key in ("task", "todo", "action_item"):
        return "task"
    if key == "subject":
        return "email_subject" if sib & {"from", "to", "cc", "message_id", "sender"} else "ticket_subject"
    if key in ("title", "headline", "heading"):
        return "notification_title" if "body" in sib else "email_subject"
    if key == "type" or key == "kind" or last == "type":
        return "generic_category"
    if _has(toks, "price", "amount", "cost", "total", "fee"):
        return "money_text"
    if _has(toks, "age", "count", "quantity", "qty"):
        return "small_int_text"
    return _classify_text(toks, ptoks, sib, key, desc)


def _classify_text(toks: tuple[str, ...], ptoks: tuple[str, ...], sib: set[str], key: str, desc: str) -> str:
    if not _has(toks, *_TEXT_WORDS):
        return "words"
    if key == "message" or _has(toks, "message"):
        if sib & {"level", "timestamp", "source", "logger"}:
            return "log_message"
        if "field" in sib:
            return "error_message"
        if sib & {"status_code", "code", "status"}:
            return "api_message"
        return "notification_body"
    if key == "body":
        return "notification_body"
    if _has(toks, "review", "feedback") or (_has(toks, "comment") and "rating" in sib):
        return "review"
    if _has(toks, "description", "detail", "summary"):
        if sib & {"subject", "ticket_id", "priority"}:
            return "support_issue"
        if sib & {"amount", "merchant_name", "balance_after", "transaction_id"}:
            return "transaction_description"
        if sib & {"quantity", "unit_price", "qty", "price"}:
            return "line_item"
    if _has(toks, "note", "remark", "comment", "memo"):
        if _has(ptoks, "diagnosis", "encounter", "patient", "visit"):
            return "clinical_note"
        if sib & {"attendees", "meeting_title", "action_items", "duration_minutes"}:
            return "meeting_note"
    if _has(toks, "instruction") and (sib & {"medication_name", "dosage", "frequency", "recommended_in_days"}):
        return "care_instruction"
    return "sentence"


@functools.lru_cache(maxsize=4096)
def number_spec(ctx: FieldContext, integer: bool) -> NumberSpec:
    """A plausible range for a numeric field named like this (intersected with schema bounds later)."""
    toks = tokens(ctx.key)
    ptoks = tokens(ctx.parent)
    key = "_".join(toks)
    sib = {"_".join(tokens(s)) for s in ctx.siblings}
    spec = _vital_spec(toks, ptoks, sib, key) or _geo_money_spec(toks, key)
    if spec is None:
        spec = _count_spec(toks, key) if integer else None
    if spec is None:
        spec = _measure_spec(toks, key)
    if spec is None:
        spec = NumberSpec(1, 500, 0) if integer else NumberSpec(0, 1000, 2)
    return spec


def _vital_spec(toks: tuple[str, ...], ptoks: tuple[str, ...], sib: set[str], key: str) -> NumberSpec | None:
    if key in ("heart_rate", "pulse", "bpm"):
        return NumberSpec(55, 110, 0)
    if key == "respiratory_rate":
        return NumberSpec(12, 22, 0)
    if "systolic" in toks:
        return NumberSpec(100, 160, 0)
    if "diastolic" in toks:
        return NumberSpec(60, 100, 0)
    if _has(toks, "temperature", "temp"):
        if _has(ptoks, "vital") or sib & {"heart_rate", "blood_pressure_systolic", "respiratory_rate"}:
            return NumberSpec(36.1, 39.2, 1)
        return NumberSpec(-5, 35, 1)
    if "saturation" in toks or key in ("spo2", "o2_sat"):
        return NumberSpec(92, 100, 0)
    if key in ("height_cm", "height"):
        return NumberSpec(150, 198, 1)
    if key in ("weight_kg", "weight"):
        return NumberSpec(45, 120, 1)
    if key == "bmi":
        return NumberSpec(18, 35, 1)
    return None


def _geo_money_spec(toks: tuple[str, ...], key: str) -> NumberSpec | None:
    if _has(toks, "latitude", "lat"):
        return NumberSpec(-60, 70, 6)
    if _has(toks, "longitude", "lng", "lon", "long"):
        return NumberSpec(-170, 170, 6)
    if _has(toks, "rate", "percentage", "percent", "pct", "ratio", "margin", "confidence", "uptime", "discount",
            "humidity", "battery", "utilization", "share", "probability", "allocation", "growth", "quality"):
        if _has(toks, "growth"):
            return NumberSpec(-15, 45, 2)
        if _has(toks, "uptime"):
            return NumberSpec(95, 100, 2)
        if _has(toks, "discount"):
            return NumberSpec(5, 50, 0)
        if _has(toks, "humidity"):
            return NumberSpec(20, 90, 1)
        return NumberSpec(0, 100, 2)
    if key == "roas":
        return NumberSpec(0.5, 9, 2)
    if _has(toks, "price", "cost", "msrp"):
        return NumberSpec(2, 500, 2, money=True)
    if _has(toks, "fee", "tip", "shipping"):
        return NumberSpec(0.5, 60, 2, money=True)
    if _has(toks, "tax", "vat"):
        return NumberSpec(1, 300, 2, money=True)
    if _has(toks, "budget", "revenue", "profit", "spend", "sale", "income", "salary"):
        return NumberSpec(1000, 900000, 2, money=True)
    if _has(toks, "amount", "total", "subtotal", "balance", "payment", "refund", "value", "involved", "paid"):
        if _has(toks, "lifetime", "order"):
            return NumberSpec(20, 2000, 2, money=True)
        if key == "value":
            return None
        return NumberSpec(10, 3000, 2, money=True)
    return None


def _count_spec(toks: tuple[str, ...], key: str) -> NumberSpec | None:
    if key in ("status_code", "http_status", "code") or (_has(toks, "status") and _has(toks, "code")):
        return NumberSpec(100, 599, 0, choices=_HTTP_CODES)
    if _has(toks, "quantity", "qty"):
        return NumberSpec(1, 10, 0)
    if _has(toks, "age"):
        return NumberSpec(18, 85, 0)
    if _has(toks, "year"):
        return NumberSpec(1990, 2026, 0)
    if _has(toks, "rating", "star"):
        return NumberSpec(1, 5, 0)
    if _has(toks, "page") and not _has(toks, "per", "size"):
        return NumberSpec(1, 20, 0)
    if _has(toks, "per", "limit") or key == "page_size":
        return NumberSpec(10, 100, 0, choices=(10, 20, 25, 50, 100))
    if _has(toks, "minute"):
        return NumberSpec(15, 120, 0, choices=(15, 30, 45, 60, 90, 120))
    if _has(toks, "second", "interval", "delay", "timeout"):
        return NumberSpec(1, 300, 0, choices=(5, 10, 15, 30, 60, 120, 300))
    if _has(toks, "hour"):
        return NumberSpec(1, 168, 0, choices=(1, 6, 12, 24, 48, 72, 168))
    if _has(toks, "day"):
        return NumberSpec(3, 90, 0, choices=(3, 7, 10, 14, 30, 60, 90))
    if _has(toks, "priority", "rank", "level"):
        return NumberSpec(1, 5, 0)
    if _has(toks, "port"):
        return NumberSpec(1024, 65535, 0)
    if _has(toks, "size", "byte", "bytes"):
        return NumberSpec(2000, 5_000_000, 0)
    if _has(toks, "impression", "view", "visit", "data", "point", "organic", "traffic"):
        return NumberSpec(1000, 500000, 0)
    if _has(toks, "click", "order", "customer", "user", "employee", "subscriber", "session", "unit", "sold"):
        return NumberSpec(5, 20000, 0)
    if _has(toks, "stock", "inventory", "reorder", "pending", "conversion"):
        return NumberSpec(0, 500, 0)
    if _has(toks, "anomaly", "alert", "error", "failure", "retry", "attempt", "online", "offline", "count"):
        return NumberSpec(0, 40, 0)
    if _has(toks, "floor"):
        return NumberSpec(1, 20, 0)
    if _has(toks, "version"):
        return NumberSpec(1, 12, 0)
    return None


def _measure_spec(toks: tuple[str, ...], key: str) -> NumberSpec | None:
    if _has(toks, "signal", "rssi", "strength"):
        return NumberSpec(-90, -30, 0)
    if _has(toks, "score"):
        return NumberSpec(0, 100, 1)
    if _has(toks, "rating", "star"):
        return NumberSpec(1, 5, 1)
    if _has(toks, "distance", "km", "mile"):
        return NumberSpec(0.5, 500, 1)
    if _has(toks, "value", "reading", "level", "measurement", "result"):
        return NumberSpec(0.5, 300, 1)
    if _has(toks, "quantity", "qty", "count"):
        return NumberSpec(1, 10, 0)
    return None


# ------------------------------------------------------------------------------------------ values


class ValueMaker:
    """Values by kind from a seeded RNG and a (re-seeded) Faker instance; one per generator."""

    def __init__(self, fake: Any, *, datetime_tz: bool = False) -> None:
        self.fake = fake
        self.datetime_tz = datetime_tz
        self.rng = random.Random(0)

    def reseed(self, rng: random.Random) -> None:
        """Use `rng` for our own choices and re-seed Faker from it (deterministic per sample)."""
        self.rng = rng
        self.fake.seed_instance(rng.getrandbits(48))

    def choice(self, options: Any) -> Any:
        return self.rng.choice(options)

    def string(self, ctx: FieldContext) -> str:
        kind = classify_string(ctx)
        maker = STRING_MAKERS.get(kind, STRING_MAKERS["words"])
        return maker(self, ctx)

    # -------------------------------------------------------------- formats and shared helpers

    def person(self) -> str:
        return f"{self.fake.first_name()} {self.fake.last_name()}"

    def email(self, name: str | None = None) -> str:
        if name is None:
            return str(self.fake.email())
        parts = [re.sub(r"[^a-z]", "", part.lower()) for part in name.split()]
        parts = [part for part in parts if part] or ["user"]
        local = self.choice((".".join(parts[:1] + parts[-1:]), parts[0][0] + parts[-1], parts[0]))
        if self.rng.random() < 0.3:
            local += str(self.rng.randint(1, 99))
        return f"{local}@{self.fake.free_email_domain() if self.rng.random() < 0.5 else self.fake.domain_name()}"

    def phone(self) -> str:
        r = self.rng
        style = r.randrange(5)
        if style == 0:
            return f"+1-{r.randint(201, 989)}-555-{r.randint(100, 9999):04d}"
        if style == 1:
            return f"({r.randint(201, 989)}) 555-{r.randint(100, 9999):04d}"
        if style == 2:
            return f"+44 20 {r.randint(1000, 9999)} {r.randint(1000, 9999)}"
        if style == 3:
            return f"{r.randint(201, 989)}-555-{r.randint(100, 9999):04d}"
        return f"+49 30 {r.randint(100000, 999999)}"

    def date_between(self, start_year: int, end_year: int) -> date:
        start = date(start_year, 1, 1)
        span = (date(end_year, 12, 31) - start).days
        return start + timedelta(days=self.rng.randint(0, span))

    def date(self, ctx: FieldContext | None = None) -> str:
        return self.date_between(*self._years(ctx)).isoformat()

    def datetime(self, ctx: FieldContext | None = None) -> str:
        day = self.date_between(*self._years(ctx))
        moment = datetime(day.year, day.month, day.day, self.rng.randint(0, 23), self.rng.randint(0, 59),
                          self.rng.randint(0, 59))
        text = moment.isoformat()
        if self.rng.random() < 0.3:
            text += f".{self.rng.randint(0, 999999):06d}"
        if self.datetime_tz:
            text += self.choice(("Z", "+00:00", "+02:00", "-05:00"))
        return text

    def clock(self) -> str:
        return f"{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}:{self.rng.randint(0, 59):02d}"

    def _years(self, ctx: FieldContext | None) -> tuple[int, int]:
        toks = tokens(ctx.key) if ctx else ()
        if _has(toks, "birth", "dob", "birthday"):
            return 1945, 2006
        if _has(toks, "founded", "established", "incorporated"):
            return 1950, 2022
        if _has(toks, "due", "end", "expiry", "expire", "expires", "deadline", "next", "until"):
            return 2025, 2027
        return 2019, 2026

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def url(self) -> str:
        base = str(self.fake.url())
        if self.rng.random() < 0.5:
            base += self.choice(("docs", "account/settings", "products/item", "blog/post", "help", "api/v1/status"))
        return base

    def ipv4(self) -> str:
        return str(self.fake.ipv4_private() if self.rng.random() < 0.5 else self.fake.ipv4_public())

    def hostname(self) -> str:
        r = self.rng
        prefix = r.choice(("db", "web", "api", "cache", "mail", "vpn", "edge", "worker"))
        return f"{prefix}-{r.randint(1, 24):02d}.{self.fake.domain_name()}"

    def identifier(self, ctx: FieldContext) -> str:
        """A patterned id: ORD-48213, INV-2024-0042, usr_8f3a2c, a UUID... prefix from the key name."""
        toks = [t for t in tokens(ctx.key) if t not in ("id", "identifier", "number", "no", "num", "code", "ref")]
        word = toks[-1] if toks else (tokens(ctx.parent)[-1] if tokens(ctx.parent) else "id")
        prefix = _PREFIXES.get(word, word[:3].upper() or "ID")
        r = self.rng
        style = r.randrange(6)
        if style == 0:
            return f"{prefix}-{r.randint(10000, 99999)}"
        if style == 1:
            return f"{prefix}-{r.randint(2019, 2026)}-{r.randint(1, 9999):04d}"
        if style == 2:
            return f"{prefix.lower()}_{r.getrandbits(32):08x}"
        if style == 3:
            return self.uuid()
        if style == 4:
            return f"{prefix}{r.randint(100000, 9999999)}"
        chars = [r.choice(string.ascii_uppercase) for _ in range(3)] + [r.choice(string.digits) for _ in range(3)]
        r.shuffle(chars)
        return f"{prefix}-{''.join(chars)}"

    def words(self, low: int = 1, high: int = 2) -> str:
        count = self.rng.randint(low, high)
        return " ".join(str(self.fake.word()).capitalize() for _ in range(count))


_PREFIXES = {
    "order": "ORD", "invoice": "INV", "ticket": "TKT", "transaction": "TXN", "cart": "CART", "user": "USR",
    "customer": "CUST", "product": "PRD", "device": "DEV", "sensor": "SNS", "network": "NET", "report": "RPT",
    "encounter": "ENC", "patient": "PT", "provider": "PRV", "facility": "FAC", "party": "PTY", "rule": "RULE",
    "alert": "ALT", "department": "DEPT", "team": "TEAM", "employee": "EMP", "project": "PRJ", "company": "CO",
    "item": "ITEM", "request": "REQ", "license": "LIC", "policy": "POL", "group": "GRP", "record": "MRN",
    "medical": "MRN", "reference": "REF", "message": "MSG", "session": "SES", "account": "ACC", "event": "EVT",
    "shipment": "SHP", "booking": "BK", "reservation": "RSV", "payment": "PAY", "connected": "DEV",
    "target": "DEV", "campaign": "CMP", "region": "RGN", "meeting": "MTG", "task": "TSK", "item_id": "ITEM",
}


def _pick(options: tuple[Any, ...]) -> Any:
    return lambda maker, ctx: maker.choice(options)


def _floor(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    return r.choice((str(r.randint(1, 12)), f"Floor {r.randint(1, 30)}", "Ground", f"{r.randint(2, 9)}th floor", "B1"))


def _network(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    base = r.choice(vocab.WIFI_BASES)
    return base + r.choice(("", "-5G", "_2.4GHz", f"-{r.randint(1, 9)}", "-Guest", "-Secure"))


def _device(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    name = f"{r.choice(vocab.DEVICE_PLACES)} {r.choice(vocab.DEVICE_THINGS)}"
    return name + (f" {r.randint(1, 4)}" if r.random() < 0.3 else "")


def _product(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    name = f"{r.choice(vocab.PRODUCT_ADJECTIVES)} {r.choice(vocab.PRODUCT_NOUNS)}"
    return name + (f" {r.choice(('Pro', 'Mini', 'XL', '2-Pack', 'Set of 4'))}" if r.random() < 0.25 else "")


def _company(maker: ValueMaker, ctx: FieldContext) -> str:
    return str(maker.fake.company())


def _facility(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    city = maker.fake.city()
    return f"{city} {r.choice(('Medical Center', 'Clinic', 'General Hospital', 'Diagnostics Lab', 'Health Center'))}"


def _pharmacy(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"{maker.fake.last_name()} Pharmacy" + (f" #{maker.rng.randint(10, 999)}" if maker.rng.random() < 0.4 else "")


def _event(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    return f"{maker.fake.city()} {r.choice(vocab.EVENT_KINDS)} {r.randint(2024, 2026)}"


def _doctor(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"Dr. {maker.person()}"


def _person_or_user(maker: ValueMaker, ctx: FieldContext) -> str:
    return maker.person() if maker.rng.random() < 0.6 else str(maker.fake.user_name())


def _address(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"{maker.fake.street_address()}, {maker.fake.city()}, {maker.fake.state_abbr()} {maker.fake.postcode()}"


def _location(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    return r.choice(vocab.LOCATIONS) if r.random() < 0.7 else f"{maker.fake.city()}, {maker.fake.state_abbr()}"


def _identifier(maker: ValueMaker, ctx: FieldContext) -> str:
    return maker.identifier(ctx)


def _sku(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    letters = "".join(r.choice(string.ascii_uppercase) for _ in range(r.randint(2, 3)))
    return r.choice((f"SKU-{r.randint(10000, 99999)}", f"{letters}-{r.randint(100, 9999)}",
                     f"{letters}-{r.randint(100, 999)}-{r.choice(('S', 'M', 'L', 'XL', 'BLK', 'WHT'))}"))


def _message_id(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"<{maker.rng.getrandbits(48):012x}@mail.{maker.fake.domain_name()}>"


def _digits(count_low: int, count_high: int) -> Any:
    def make(maker: ValueMaker, ctx: FieldContext) -> str:
        count = maker.rng.randint(count_low, count_high)
        return str(maker.rng.randint(1, 9)) + "".join(str(maker.rng.randint(0, 9)) for _ in range(count - 1))

    return make


def _card(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"**** **** **** {maker.rng.randint(0, 9999):04d}"


def _tracking(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    return f"1Z{r.getrandbits(40):010X}{r.randint(10, 99)}"


def _serial(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    return "SN" + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(10))


def _token(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"{maker.rng.getrandbits(128):032x}"


def _version(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    if tokens(ctx.key) == ("version",) and tokens(ctx.parent) == ("metadata",) and r.random() < 0.4:
        return r.choice(("v1", "v2", "2024-06-01"))
    return f"{r.randint(1, 5)}.{r.randint(0, 12)}.{r.randint(0, 30)}"


def _filename(maker: ValueMaker, ctx: FieldContext) -> str:
    r = maker.rng
    return f"{r.choice(vocab.FILE_STEMS)}.{r.choice(vocab.FILE_TYPES)[0]}"


def _mime(maker: ValueMaker, ctx: FieldContext) -> str:
    return str(maker.rng.choice(vocab.FILE_TYPES)[1])


def _year(maker: ValueMaker, ctx: FieldContext) -> str:
    return str(maker.rng.randint(1995, 2026))


def _money_text(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"{maker.rng.uniform(2, 500):.2f}"


def _small_int_text(maker: ValueMaker, ctx: FieldContext) -> str:
    return str(maker.rng.randint(1, 60))


def _team(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"{maker.rng.choice(vocab.TEAM_ADJECTIVES)} Team"


def _project(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"Project {maker.rng.choice(vocab.PROJECT_CODENAMES)}"


def _campaign(maker: ValueMaker, ctx: FieldContext) -> str:
    return f"{maker.rng.choice(vocab.CAMPAIGN_NAMES)} {maker.rng.randint(2024, 2026)}"


def _locale(maker: ValueMaker, ctx: FieldContext) -> str:
    return str(maker.rng.choice(("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR")))


def _words(maker: ValueMaker, ctx: FieldContext) -> str:
    return maker.words()


STRING_MAKERS: dict[str, Any] = {
    "email": lambda m, c: m.email(),
    "phone": lambda m, c: m.phone(),
    "url": lambda m, c: m.url(),
    "ipv4": lambda m, c: m.ipv4(),
    "ipv6": lambda m, c: str(m.fake.ipv6()),
    "mac": lambda m, c: str(m.fake.mac_address()),
    "hostname": lambda m, c: m.hostname(),
    "uuid": lambda m, c: m.uuid(),
    "timezone": _pick(vocab.TIMEZONES),
    "currency": _pick(vocab.CURRENCIES),
    "language": _pick(vocab.LANGUAGE_CODES),
    "locale": _locale,
    "date_birth": lambda m, c: m.date(c),
    "date": lambda m, c: m.date(c),
    "datetime": lambda m, c: m.datetime(c),
    "clock": lambda m, c: m.clock()[:5],
    "year": _year,
    "first_name": lambda m, c: str(m.fake.first_name()),
    "last_name": lambda m, c: str(m.fake.last_name()),
    "username": lambda m, c: str(m.fake.user_name()),
    "network_name": _network,
    "device_name": _device,
    "product": _product,
    "facility": _facility,
    "pharmacy": _pharmacy,
    "bank": _pick(vocab.BANKS),
    "insurer": _pick(vocab.INSURERS),
    "manufacturer": _pick(vocab.MANUFACTURERS),
    "company": _company,
    "event": _event,
    "campaign": _campaign,
    "rule_name": _pick(vocab.RULE_NAMES),
    "project": _project,
    "team": _team,
    "department": _pick(vocab.DEPARTMENTS),
    "medication": _pick(vocab.MEDICATIONS),
    "diagnosis": lambda m, c: m.choice(vocab.DIAGNOSES)[1],
    "lab_test_name": lambda m, c: m.choice(vocab.LAB_TESTS)[1],
    "lab_test_code": lambda m, c: m.choice(vocab.LAB_TESTS)[0],
    "doctor": _doctor,
    "meeting_title": _pick(vocab.MEETING_TITLES),
    "specialty": _pick(vocab.SPECIALTIES),
    "project_role": _pick(vocab.PROJECT_ROLES),
    "meeting_role": _pick(vocab.MEETING_ROLES),
    "job_title": _pick(vocab.JOB_TITLES),
    "person": lambda m, c: m.person(),
    "person_or_user": _person_or_user,
    "product_category": _pick(vocab.PRODUCT_CATEGORIES),
    "spend_category": _pick(vocab.SPEND_CATEGORIES),
    "generic_category": _pick(vocab.GENERIC_CATEGORIES),
    "street": lambda m, c: str(m.fake.street_address()),
    "address": _address,
    "city": lambda m, c: str(m.fake.city()),
    "us_state": lambda m, c: str(m.fake.state()),
    "country": _pick(_COUNTRIES),
    "country_code": lambda m, c: str(m.fake.country_code()),
    "postcode": lambda m, c: str(m.fake.postcode()),
    "region": _pick(vocab.REGIONS),
    "building": _pick(vocab.BUILDINGS),
    "floor": _floor,
    "room": _pick(vocab.ROOMS),
    "location": _location,
    "icd10": lambda m, c: m.choice(vocab.DIAGNOSES)[0],
    "lab_code": _pick(vocab.LAB_CODES),
    "coupon": _pick(vocab.COUPONS),
    "message_id": _message_id,
    "account_number": _digits(10, 12),
    "routing_number": _digits(9, 9),
    "card_number": _card,
    "last4": _digits(4, 4),
    "card_brand": _pick(("Visa", "Mastercard", "American Express", "Discover")),
    "wallet": _pick(("Apple Pay", "Google Pay", "PayPal", "Samsung Pay")),
    "tracking_number": _tracking,
    "sku": _sku,
    "serial": _serial,
    "token": _token,
    "identifier": _identifier,
    "version": _version,
    "model": _pick(_MODELS),
    "filename": _filename,
    "mime": _mime,
    "status": _pick(vocab.STATUSES),
    "priority": _pick(vocab.PRIORITIES),
    "severity": _pick(vocab.SEVERITIES),
    "log_level": _pick(vocab.LOG_LEVELS),
    "action_type": _pick(vocab.ACTION_TYPES),
    "alert_type": _pick(vocab.ALERT_TYPES),
    "account_type": _pick(vocab.ACCOUNT_TYPES),
    "operating_mode": _pick(vocab.OPERATING_MODES),
    "gender": _pick(vocab.GENDERS),
    "color": _pick(vocab.COLORS),
    "theme": _pick(("light", "dark", "system")),
    "dosage": _pick(vocab.DOSAGES),
    "frequency": _pick(vocab.FREQUENCIES),
    "duration": _pick(vocab.DURATIONS),
    "complaint": _pick(vocab.COMPLAINTS),
    "clinical_note": _pick(vocab.CLINICAL_NOTES),
    "hpi_note": _pick(vocab.HPI_NOTES),
    "exam_note": _pick(vocab.EXAM_FINDINGS),
    "care_instruction": _pick(vocab.CARE_INSTRUCTIONS),
    "lab_parameter": lambda m, c: m.choice(vocab.LAB_PARAMETERS)[0],
    "lab_unit": lambda m, c: m.choice(vocab.LAB_PARAMETERS)[1],
    "unit": _pick(("kg", "cm", "pcs", "m", "L", "box", "hours")),
    "reference_range": lambda m, c: m.choice(vocab.LAB_PARAMETERS)[2],
    "tag": _pick(vocab.TAG_WORDS),
    "skill": _pick(vocab.SKILLS),
    "capability": _pick(vocab.CAPABILITIES),
    "interest": _pick(vocab.INTERESTS),
    "dietary": _pick(vocab.DIETARY),
    "focus_area": _pick(vocab.FOCUS_AREAS),
    "service": _pick(vocab.SERVICES),
    "error_field": _pick(vocab.ERROR_FIELDS),
    "jurisdiction": _pick(vocab.JURISDICTIONS),
    "purpose": _pick(vocab.PURPOSES),
    "task": _pick(vocab.TASKS),
    "email_subject": _pick(vocab.EMAIL_SUBJECTS),
    "ticket_subject": _pick(vocab.TICKET_SUBJECTS),
    "notification_title": _pick(vocab.NOTIFICATION_TITLES),
    "money_text": _money_text,
    "small_int_text": _small_int_text,
    "log_message": _pick(vocab.LOG_MESSAGES),
    "error_message": _pick(vocab.ERROR_MESSAGES),
    "api_message": _pick(vocab.API_MESSAGES),
    "notification_body": _pick(vocab.NOTIFICATION_BODIES),
    "review": _pick(vocab.REVIEW_TEXTS),
    "support_issue": _pick(vocab.SUPPORT_ISSUES),
    "transaction_description": _pick(vocab.TRANSACTION_DESCRIPTIONS),
    "line_item": lambda m, c: _product(m, c) if m.rng.random() < 0.6 else m.choice(
        ("Consulting services", "Monthly subscription", "Setup fee", "Support hours", "Design work", "Hosting")),
    "meeting_note": _pick(vocab.MEETING_NOTES),
    "sentence": _pick(vocab.GENERIC_SENTENCES),
    "words": _words,
}


@functools.lru_cache(maxsize=4096)
def numeric_hint(ctx: FieldContext) -> bool:
    """True when the key reads like a number (price, count, latitude...): used for untyped values."""
    if classify_string(ctx) not in ("words", "sentence"):
        return False
    toks = tokens(ctx.key)
    ptoks = tokens(ctx.parent)
    key = "_".join(toks)
    sib = {"_".join(tokens(s)) for s in ctx.siblings}
    return any(
        spec is not None
        for spec in (_vital_spec(toks, ptoks, sib, key), _geo_money_spec(toks, key), _count_spec(toks, key),
                     _measure_spec(toks, key))
    )
