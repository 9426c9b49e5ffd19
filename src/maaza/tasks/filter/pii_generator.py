"""Generated PII training rows: realistic short texts whose personal-data spans are right by construction.

What and why: NLM-5M-Filter's PII head tags tokens (BIO) over `PII_LABELS`. Hand labelling is slow and
noisy, so the training rows are generated: a template (`"Call {first} on {phone}"`) is rendered piece by
piece and every slot value that is personal data becomes a span whose offsets are the running length of the
text so far, never found by searching the text afterwards. Eight genres (support tickets, e-mails with
signature blocks, chat, CRM notes, logs, web forms, invoices, one-liners) each have several templates and
parts so the model does not learn one layout; values come from Faker in ten locales; about 17% of rows hold
no PII and most rows carry hard negatives (order numbers, tracking codes, versions, SKUs, dates, prices,
company names, invoice and ticket ids, hashes, UUIDs, ZIP codes alone, phone-shaped order numbers, card
last-4 digits, product names, URLs) that are never spans.

Labelling conventions (the hand-written dev set `benchmarks/data/pii_handwritten.jsonl` follows the same):

- PERSON: a person's name of one or more tokens ("Anna", "Anna Kowalski", "João Felipe Nunes"). A title
  or salutation ("Dr.", "Mr.", "Frau") is outside the span. Usernames and handles (`anna_k`, `@anna_k`,
  the speaker of a chat line, `user=jdoe` in a log) are not PERSON; nor are company names, even when they
  are made of surnames ("Griffin, Griffith and Perez").
- EMAIL_ADDRESS: every e-mail address, personal or role (`support@...`); the `<>` or `mailto:` around it
  is outside the span.
- PHONE_NUMBER: the number as written, including a leading `+` and country code and any brackets
  (`+1 (555) 123-4567`, `(030) 1234567`); the label ("Tel:") is outside.
- STREET_ADDRESS: the whole address as written, from the house number / street to the last of postcode,
  city, state and country when present, one line or several (the span then holds the newlines). A city or
  postcode on its own is not an address; every street address is a span, a company's too.
- CREDIT_CARD: a full card number (Luhn-valid; grouped with spaces or dashes, or compact). Masked numbers
  and last-4 digits ("ending in 4821", "**** 4821") are not.
- IBAN_CODE: a full IBAN (valid mod-97 check digits), grouped in fours or compact.
- US_SSN: `123-45-6789` (rarely with spaces), area not 000, 666 or 9xx; only in `en_US` rows.
- IP_ADDRESS: every IPv4 and IPv6 address, private ranges included.
"""

from __future__ import annotations

import ipaddress
import os
import random
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from maaza.tasks.filter.checksums import iban_check_digits, luhn_check_digit

GENRES = ("support_ticket", "email", "chat", "crm_note", "log", "web_form", "invoice", "one_liner")

# locale -> relative weight (English rows are the most common in practice)
LOCALES: dict[str, int] = {
    "en_US": 3,
    "en_GB": 2,
    "de_DE": 1,
    "fr_FR": 1,
    "es_ES": 1,
    "it_IT": 1,
    "nl_NL": 1,
    "pt_BR": 1,
    "en_IN": 1,
    "pl_PL": 1,
}

NO_PII_SHARE = 0.17

# ----------------------------------------------------------------------------------------- value shapes

# phone patterns per locale: '#' is any digit, 'N' a digit 2-9; everything else is literal
PHONE_FORMATS: dict[str, tuple[str, ...]] = {
    "en_US": ("N##-N##-####", "(N##) N##-####", "+1 (N##) N##-####", "+1 N## N## ####", "N##.N##.####",
              "+1-N##-N##-####"),
    "en_GB": ("07### ######", "+44 7### ######", "020 #### ####", "+44 20 #### ####", "(020) #### ####",
              "0161 ### ####", "+44 161 ### ####"),
    "de_DE": ("+49 30 #######", "(030) #######", "030 ########", "0151 ########", "+49 151 ########",
              "+49 (0)89 #######", "089/#######", "0176-########"),
    "fr_FR": ("01 ## ## ## ##", "+33 1 ## ## ## ##", "06 ## ## ## ##", "+33 6 ## ## ## ##", "07.##.##.##.##",
              "+33 (0)4 ## ## ## ##"),
    "es_ES": ("6## ### ###", "+34 6## ### ###", "91 ### ## ##", "+34 91 ### ## ##", "+34 93 ### ####"),
    "it_IT": ("3## ### ####", "+39 3## ### ####", "06 #### ####", "+39 06 #### ####", "02 ########"),
    "nl_NL": ("06 ########", "+31 6 ########", "020 ### ####", "+31 20 ### ####", "06-########",
              "(010) ### ####"),
    "pt_BR": ("(11) 9####-####", "+55 11 9####-####", "(21) 3###-####", "+55 (21) 9####-####", "11 9########"),
    "en_IN": ("9#### #####", "+91 9#### #####", "+91-9#########", "022 #### ####", "+91 80 #### ####",
              "080-########"),
    "pl_PL": ("5## ### ###", "+48 5## ### ###", "22 ### ## ##", "+48 22 ### ## ##", "(22) ### ## ##"),
}  # fmt: skip

# BBAN patterns per country: '#' digit, 'A' upper-case letter, 'C' letter or digit
IBAN_BBAN: dict[str, str] = {
    "DE": "#" * 18, "GB": "AAAA" + "#" * 14, "FR": "#" * 10 + "C" * 11 + "##", "ES": "#" * 20,
    "IT": "A" + "#" * 10 + "C" * 12, "NL": "AAAA" + "#" * 10, "PL": "#" * 24, "BR": "#" * 23 + "AC",
    "PT": "#" * 21, "BE": "#" * 12, "AT": "#" * 16, "CH": "#" * 5 + "C" * 12,
}  # fmt: skip

IBAN_COUNTRIES: dict[str, tuple[str, ...]] = {
    "en_US": ("DE", "GB", "NL"), "en_GB": ("GB",), "de_DE": ("DE", "AT", "CH"), "fr_FR": ("FR", "BE"),
    "es_ES": ("ES",), "it_IT": ("IT",), "nl_NL": ("NL", "BE"), "pt_BR": ("BR", "PT"), "en_IN": ("GB", "DE"),
    "pl_PL": ("PL",),
}  # fmt: skip

_BANK_CODES = {"GB": ("NWBK", "BARC", "LOYD", "HBUK", "MIDL", "MONZ"), "NL": ("ABNA", "INGB", "RABO", "TRIO",
               "SNSB", "KNAB")}  # fmt: skip

TITLES: dict[str, tuple[str, ...]] = {
    "en": ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Mr", "Ms"), "de": ("Herr", "Frau", "Dr.", "Herr Dr."),
    "fr": ("M.", "Mme", "Dr"), "es": ("Sr.", "Sra.", "Dr."), "it": ("Sig.", "Sig.ra", "Dott."),
    "nl": ("dhr.", "mevr.", "Dr."), "pt": ("Sr.", "Sra.", "Dr."), "pl": ("Pan", "Pani", "dr"),
}  # fmt: skip

PRODUCTS = (
    "Nimbus X2 headphones", "AeroKettle 1.7L", "TrailPro 45 backpack", "Lumen desk lamp", "Orbit smart plug",
    "Halcyon office chair", "PixelCam 4K webcam", "Brisk e-bike battery", "Vela yoga mat", "Quartz USB-C hub",
    "Juniper standing desk", "Echo Cube speaker", "Stratus router AX3000", "Koda espresso grinder",
)  # fmt: skip

_TRANSLIT = str.maketrans({"ł": "l", "Ł": "L", "ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "đ": "d", "'": ""})


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    return "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch in "-")).lower()


def _squash(text: str) -> str:
    """One line, single spaces, no edge whitespace (Faker street lines carry trailing blanks and newlines)."""
    return " ".join(text.split())


# ------------------------------------------------------------------------------------------- rendering

Piece = tuple[str, str | None]  # (text, label or None)

_SLOT = re.compile(r"\{([a-z][a-z0-9_]*(?::[a-z0-9]+)?)\}")

# slots whose value is (or holds) a PII span; a template without any is a zero-PII template
PII_SLOTS = frozenset({
    "person", "first", "title_person", "title_last", "email", "phone", "address", "address_ml", "street",
    "iban", "card", "ssn", "ip", "ipv4", "ipv6",
})  # fmt: skip


def slot_names(template: str) -> list[str]:
    return [match.split(":")[0] for match in _SLOT.findall(template)]


def has_pii(template: str) -> bool:
    return any(name in PII_SLOTS for name in slot_names(template))


@dataclass
class _Persona:
    first: str
    last: str
    title: str | None = None


@dataclass
class _Row:
    """One row being generated: the rng, the locale's Faker, and the memo that keeps `{slot:key}` stable."""

    r: random.Random
    fk: Any
    locale: str
    memo: dict[str, list[Piece]] = field(default_factory=dict)
    personas: dict[str, _Persona] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        return self.locale[:2]

    # -- helpers ---------------------------------------------------------------------------------------

    def pick(self, pool: list[str] | tuple[str, ...], pii: bool) -> str:
        """A template from `pool`: with `pii` False only zero-PII ones; SSN templates only in en_US rows."""
        usable = [t for t in pool if (pii or not has_pii(t)) and ("{ssn" not in t or self.locale == "en_US")]
        if not usable:
            raise ValueError(f"no usable template in pool starting {pool[0]!r}")
        return self.r.choice(usable)

    def digits(self, pattern: str) -> str:
        out = []
        for ch in pattern:
            if ch == "#":
                out.append(str(self.r.randint(0, 9)))
            elif ch == "N":
                out.append(str(self.r.randint(2, 9)))
            elif ch == "A":
                out.append(self.r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            elif ch == "C":
                out.append(self.r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
            else:
                out.append(ch)
        return "".join(out)

    def persona(self, key: str) -> _Persona:
        if key not in self.personas:
            first, last = _squash(self.fk.first_name()), _squash(self.fk.last_name())
            self.personas[key] = _Persona(first, last)
        return self.personas[key]

    def render(self, template: str) -> tuple[str, list[dict[str, Any]]]:
        """Concatenate the template's literal text and slot values; spans are the running offsets."""
        parts: list[str] = []
        spans: list[dict[str, Any]] = []
        position = 0
        for index, chunk in enumerate(_SLOT.split(template)):
            pieces: list[Piece] = [(chunk, None)] if index % 2 == 0 else self.slot(chunk)
            for text, label in pieces:
                if label is not None:
                    spans.append({"start": position, "end": position + len(text), "label": label})
                parts.append(text)
                position += len(text)
        return "".join(parts), spans

    def slot(self, spec: str) -> list[Piece]:
        """A slot's pieces. PII slots, handles and keyed slots (`{price:2}`) keep their value within the row
        (`{person}` in the header and the signature is one person); a bare negative (`{iso_ts}`) is new
        each time."""
        name, _, key = spec.partition(":")
        if not key and name not in PII_SLOTS and name != "handle":
            return _SLOTS[name](self, "a")
        if spec not in self.memo:
            self.memo[spec] = _SLOTS[name](self, key or "a")
        return self.memo[spec]


# ------------------------------------------------------------------------------------------ PII values


def _person(row: _Row, key: str) -> list[Piece]:
    p = row.persona(key)
    return [(f"{p.first} {p.last}", "PERSON")]


def _first(row: _Row, key: str) -> list[Piece]:
    return [(row.persona(key).first, "PERSON")]


def _title(row: _Row, key: str) -> str:
    p = row.persona(key)
    if p.title is None:
        p.title = row.r.choice(TITLES.get(row.lang, TITLES["en"]))
    return p.title


def _title_person(row: _Row, key: str) -> list[Piece]:
    p = row.persona(key)
    return [(_title(row, key) + " ", None), (f"{p.first} {p.last}", "PERSON")]


def _title_last(row: _Row, key: str) -> list[Piece]:
    return [(_title(row, key) + " ", None), (row.persona(key).last, "PERSON")]


def _email(row: _Row, key: str) -> list[Piece]:
    r = row.r
    if r.random() < 0.2:
        return [(row.fk.email(), "EMAIL_ADDRESS")]
    p = row.persona(key)
    first, last = _ascii(p.first) or "info", _ascii(p.last) or "mail"
    local = r.choice((f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last}", f"{first}_{last}",
                      f"{first}.{last}{r.randint(1, 99)}", f"{first[0]}{last}", f"{first}"))  # fmt: skip
    domain = row.fk.free_email_domain() if r.random() < 0.5 else row.fk.domain_name()
    return [(f"{local}@{domain}", "EMAIL_ADDRESS")]


def _phone(row: _Row, key: str) -> list[Piece]:
    return [(row.digits(row.r.choice(PHONE_FORMATS[row.locale])), "PHONE_NUMBER")]


def _street_line(row: _Row) -> str:
    street = _squash(row.fk.street_address())
    if not street[0].isdigit() and not any(ch.isdigit() for ch in street):
        street = f"{row.r.randint(1, 180)} {street}"
    return street


def _address_lines(row: _Row) -> list[str]:
    """Street, then the locale's postcode/city line(s), sometimes a country."""
    fk, loc = row.fk, row.locale
    street, city = _street_line(row), _squash(fk.city())
    if loc == "en_US":
        lines = [street, f"{city}, {fk.state_abbr()} {fk.zipcode()}"]
    elif loc == "en_GB":
        lines = [street, city, fk.postcode()] if row.r.random() < 0.5 else [street, f"{city} {fk.postcode()}"]
    elif loc == "pt_BR":
        lines = [street, f"{city} - {fk.estado_sigla()}", fk.postcode()]
    elif loc == "en_IN":
        lines = [street, f"{city} - {fk.postcode()}"]
    elif loc == "es_ES":
        lines = [street, f"{fk.postcode()} {city}"]
    else:
        lines = [street, f"{fk.postcode()} {city}"]
    if row.r.random() < 0.12:
        lines.append(_squash(fk.current_country()))
    return lines


def _address(row: _Row, key: str) -> list[Piece]:
    return [(", ".join(_address_lines(row)), "STREET_ADDRESS")]


def _address_ml(row: _Row, key: str) -> list[Piece]:
    return [("\n".join(_address_lines(row)), "STREET_ADDRESS")]


def _street(row: _Row, key: str) -> list[Piece]:
    return [(_street_line(row), "STREET_ADDRESS")]


def make_iban(r: random.Random, country: str) -> str:
    """A random IBAN for `country` with correct check digits (compact)."""
    row = _Row(r, None, "en_US")
    bban = row.digits(IBAN_BBAN[country])
    if country in _BANK_CODES:
        bban = r.choice(_BANK_CODES[country]) + bban[4:]
    return country + iban_check_digits(country, bban) + bban


def _iban(row: _Row, key: str) -> list[Piece]:
    value = make_iban(row.r, row.r.choice(IBAN_COUNTRIES[row.locale]))
    if row.r.random() < 0.65:
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return [(value, "IBAN_CODE")]


def make_card(r: random.Random) -> str:
    """A random Luhn-valid Visa (16), Mastercard (16) or Amex (15) number (compact)."""
    brand = r.choice(("visa", "visa", "mc", "mc", "amex"))
    if brand == "visa":
        prefix, length = "4", 16
    elif brand == "mc":
        prefix, length = r.choice((str(r.randint(51, 55)), str(r.randint(2221, 2720)))), 16
    else:
        prefix, length = r.choice(("34", "37")), 15
    partial = prefix + "".join(str(r.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    return partial + luhn_check_digit(partial)


def _card(row: _Row, key: str) -> list[Piece]:
    number = make_card(row.r)
    sep = row.r.choice((" ", " ", "-", ""))
    groups = (4, 6, 5) if len(number) == 15 else (4, 4, 4, 4)
    parts, start = [], 0
    for size in groups:
        parts.append(number[start : start + size])
        start += size
    return [(sep.join(parts), "CREDIT_CARD")]


def _ssn(row: _Row, key: str) -> list[Piece]:
    r = row.r
    area = 666
    while area == 666:
        area = r.randint(1, 899)
    sep = "-" if r.random() < 0.9 else " "
    return [(f"{area:03d}{sep}{r.randint(1, 99):02d}{sep}{r.randint(1, 9999):04d}", "US_SSN")]


def _ipv4_text(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.25:
        return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
    if kind < 0.45:
        return f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}"
    if kind < 0.55:
        return f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
    return f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def _ipv6_text(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.3:
        value = (0xFE80 << 112) | r.getrandbits(64)
    elif kind < 0.6:
        value = (0x20010DB8 << 96) | (r.getrandbits(16) << 80) | r.getrandbits(32)
    else:
        value = (r.randint(0x2001, 0x2A0F) << 112) | r.getrandbits(112)
    address = ipaddress.IPv6Address(value)
    return address.compressed if r.random() < 0.85 else address.exploded


def _ipv4(row: _Row, key: str) -> list[Piece]:
    return [(_ipv4_text(row.r), "IP_ADDRESS")]


def _ipv6(row: _Row, key: str) -> list[Piece]:
    return [(_ipv6_text(row.r), "IP_ADDRESS")]


def _ip(row: _Row, key: str) -> list[Piece]:
    return [(_ipv4_text(row.r) if row.r.random() < 0.75 else _ipv6_text(row.r), "IP_ADDRESS")]


# ------------------------------------------------------------------------------ hard negatives (no span)


def _plain(make: Callable[[_Row], str]) -> Callable[[_Row, str], list[Piece]]:
    return lambda row, key: [(make(row), None)]


def _date(row: _Row) -> str:
    r = row.r
    y, m, d = r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28)
    months = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")  # fmt: skip
    return r.choice((f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y}",
                     f"{months[m - 1]} {d}, {y}", f"{d} {months[m - 1][:3]} {y}"))  # fmt: skip


def _time(row: _Row) -> str:
    return f"{row.r.randint(7, 19):02d}:{row.r.choice((0, 15, 30, 45, row.r.randint(0, 59))):02d}"


def _iso_ts(row: _Row) -> str:
    r = row.r
    return (f"{r.randint(2022, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
            f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
            + r.choice(("Z", f".{r.randint(0, 999):03d}Z", "+00:00", "+01:00")))  # fmt: skip


def _syslog_ts(row: _Row) -> str:
    r = row.r
    month = r.choice(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))
    return (
        f"{month} {r.randint(1, 28):2d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
    )


def _clf_ts(row: _Row) -> str:
    r = row.r
    month = r.choice(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))
    return (f"{r.randint(1, 28):02d}/{month}/{r.randint(2022, 2026)}:{r.randint(0, 23):02d}:"
            f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d} +0000")  # fmt: skip


def _price(row: _Row) -> str:
    r = row.r
    amount = r.choice((r.randint(5, 99) + 0.99, r.randint(10, 2500) + r.choice((0, 0.5, 0.99))))
    whole, cents = int(amount), round((amount - int(amount)) * 100)
    en = f"{whole:,}.{cents:02d}"
    eu = f"{whole:,}".replace(",", ".") + f",{cents:02d}"
    return r.choice((f"€{en}", f"${en}", f"£{en}", f"{eu} €", f"EUR {eu}", f"R$ {eu}", f"₹{whole:,}",
                     f"{eu} zł", f"USD {en}"))  # fmt: skip


def _order(row: _Row) -> str:
    r = row.r
    return r.choice((f"ORD-{r.randint(2021, 2026)}-{r.randint(100000, 999999)}", f"#{r.randint(1000000, 9999999)}",
                     f"A{r.randint(10, 99)}-{r.randint(100000, 999999)}", f"{r.randint(100, 999)}-{r.randint(1000000, 9999999)}-{r.randint(1000000, 9999999)}"))  # fmt: skip


def _tracking(row: _Row) -> str:
    r = row.r
    return r.choice(("1Z" + row.digits("CCCCCC") + row.digits("##########"), "JD" + row.digits("#" * 18),
                     row.digits("9400 #### #### #### #### ##"), row.digits("AA#########") + r.choice(("DE", "GB", "NL"))))  # fmt: skip


def _version(row: _Row) -> str:
    r = row.r
    core = f"{r.randint(0, 12)}.{r.randint(0, 30)}.{r.randint(0, 40)}"
    return r.choice(
        (f"v{core}", core, f"{core}-rc{r.randint(1, 4)}", f"v{r.randint(1, 9)}.{r.randint(0, 20)}")
    )


def _sku(row: _Row) -> str:
    return row.digits(row.r.choice(("SKU-####-AA-A", "AA-####A", "#####-AAA", "SKU AAA-####")))


def _invoice_no(row: _Row) -> str:
    r = row.r
    return r.choice((f"INV-{r.randint(2021, 2026)}-{r.randint(1, 99999):05d}", f"RE-{r.randint(2021, 2026)}-{r.randint(1, 9999):04d}",
                     f"F{r.randint(2021, 2026)}/{r.randint(1, 9999):04d}", f"{r.randint(10000000, 99999999)}"))  # fmt: skip


def _ticket(row: _Row) -> str:
    r = row.r
    return r.choice((f"#{r.randint(10000, 99999)}", f"TCK-{r.randint(10000, 999999)}", f"OPS-{r.randint(100, 9999)}",
                     f"CS{r.randint(1000000, 9999999)}"))  # fmt: skip


def _hash(row: _Row) -> str:
    return "".join(row.r.choice("0123456789abcdef") for _ in range(row.r.choice((7, 12, 32, 40, 64))))


def _uuid(row: _Row) -> str:
    return str(uuid.UUID(int=row.r.getrandbits(128), version=4))


def _refnum(row: _Row) -> str:
    """A number shaped like a phone number that is an order / case reference."""
    return row.digits(row.r.choice(("N##-N##-####", "0### ### ####", "+## ### ### ###", "(0##) #######")))


def _handle(row: _Row) -> str:
    r = row.r
    first, last = _ascii(row.fk.first_name()) or "user", _ascii(row.fk.last_name()) or "x"
    return r.choice((f"{first}_{last[0]}", f"{first}.{last}", f"{first[0]}{last}", row.fk.user_name(),
                     f"{first}{r.randint(1, 99)}", first))  # fmt: skip


def _handle_slot(row: _Row, key: str) -> list[Piece]:
    """A handle, kept stable per key; tied to persona `key` when that persona exists (never a span)."""
    p = row.personas.get(key)
    if p is not None and row.r.random() < 0.7:
        first, last = _ascii(p.first) or "user", _ascii(p.last) or "x"
        return [
            (row.r.choice((f"{first}_{last[0]}", f"{first}.{last[0]}", first, f"{first[0]}{last}")), None)
        ]
    return [(_handle(row), None)]


def _url(row: _Row) -> str:
    r = row.r
    path = r.choice(("help/returns", "account/settings", "status", "docs/api/v2", f"orders/{r.randint(10000, 99999)}",
                     "blog/release-notes", "support/kb/4471", "pricing"))  # fmt: skip
    return row.fk.url().rstrip("/") + "/" + path


_NEGATIVES: dict[str, Callable[[_Row], str]] = {
    "date": _date,
    "time": _time,
    "iso_ts": _iso_ts,
    "syslog_ts": _syslog_ts,
    "clf_ts": _clf_ts,
    "price": _price,
    "order": _order,
    "tracking": _tracking,
    "version": _version,
    "sku": _sku,
    "invoice_no": _invoice_no,
    "ticket": _ticket,
    "hash": _hash,
    "uuid": _uuid,
    "refnum": _refnum,
    "url": _url,
    "company": lambda row: _squash(row.fk.company()),
    "job": lambda row: _squash(row.fk.job()),
    "city": lambda row: _squash(row.fk.city()),
    "zip": lambda row: row.fk.postcode(),
    "last4": lambda row: row.digits("####"),
    "product": lambda row: row.r.choice(PRODUCTS),
    "serial": lambda row: row.digits("SN-AA#######"),
    "custno": lambda row: row.digits("K-######"),
    "host": lambda row: row.r.choice(("web-01", "web-03", "api-2", "db-primary", "edge-fra1", "mail01", "worker-7")),
    "fqdn": lambda row: row.r.choice(("mx1.", "smtp.", "relay.", "api.")) + row.fk.domain_name(),
    "pid": lambda row: str(row.r.randint(300, 65000)),
    "port": lambda row: str(row.r.randint(1024, 65535)),
    "num": lambda row: str(row.r.randint(2, 40)),
    "bytes": lambda row: str(row.r.randint(200, 90000)),
    "status": lambda row: row.r.choice(("200", "200", "201", "204", "301", "304", "401", "403", "404", "500")),
    "dur": lambda row: f"{row.r.uniform(0.01, 30):.2f}",
    "path": lambda row: row.r.choice(("/api/v2/orders", "/login", "/static/app.3f9a1c.js", "/checkout",
                                      "/api/v1/users/me", "/healthz", "/reset-password", "/cart?item=4471")),
    "ua": lambda row: row.r.choice(("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "curl/8.5.0",
                                    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X)", "python-requests/2.32.3")),
    "priority": lambda row: row.r.choice(("low", "normal", "high", "urgent", "P2", "P3")),
    "bic": lambda row: row.digits("AAAA") + row.r.choice(("DE", "GB", "FR", "NL", "ES", "IT", "PL")) + row.digits("CC"),
    "qty": lambda row: str(row.r.randint(1, 5)),
    "pct": lambda row: f"{row.r.randint(1, 99)}%",
}  # fmt: skip

_SLOTS: dict[str, Callable[[_Row, str], list[Piece]]] = {
    "person": _person,
    "first": _first,
    "title_person": _title_person,
    "title_last": _title_last,
    "email": _email,
    "phone": _phone,
    "address": _address,
    "address_ml": _address_ml,
    "street": _street,
    "iban": _iban,
    "card": _card,
    "ssn": _ssn,
    "ip": _ip,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "handle": _handle_slot,
    **{name: _plain(make) for name, make in _NEGATIVES.items()},
}

# ---------------------------------------------------------------------------------------------- genres

_TICKET_HEADERS = (
    "Ticket {ticket} | Priority: {priority} | Opened {date}\nCustomer: {person} <{email}>\n\n",
    "[{ticket}] New request from {person}\nE-mail: {email}\nPhone: {phone}\n\n",
    "Case {ticket} ({priority})\nReported by: {handle}\nProduct: {product}\n\n",
    "Subject: Problem with order {order}\nFrom: {email}\n\n",
    "Support request {ticket} - opened {iso_ts}\n\n",
)

_TICKET_BODIES = (
    "My order {order} arrived damaged, the {product} has a cracked housing. Please send a replacement to {address}.",
    "I was charged twice ({price}) on my card ending in {last4}. Please refund one of the payments.",
    "I can't log in since the update to {version}. The app shows error {hash} every time.",
    "Please change the phone number on my account to {phone}. The old one no longer works.",
    "Your technician {person:b} came on {date} but the router is still offline. The WAN IP shows {ipv4}.",
    "Please switch my direct debit to IBAN {iban}, account holder {person}.",
    "Tracking number {tracking} has said 'in transit' for nine days now. Can you check with the courier?",
    "The refund for invoice {invoice_no} ({price}) has not arrived yet. My bank details: {iban}.",
    "I paid with card {card} but the payment is still pending after three days.",
    "HR asked me to confirm my SSN for payroll, it is {ssn}. My employee number is {custno}.",
    "Serial {serial} should still be under warranty until {date}. Can you confirm?",
    "The export button does nothing in Firefox. Steps: open Reports, pick {date}, click Export.",
    "Order {order} shows {price} but the product page said {price:b}. Please fix the price.",
    "We moved offices. New delivery address: {address}. Contact on site is {first:b} ({phone:b}).",
    "Our VPN gateway {ip} rejects connections since the last firmware ({version}).",
    "Could you add dark mode to the dashboard? Several people on our team asked for it.",
    "The W-2 you sent shows the wrong SSN. Mine is {ssn}, not the one printed on the form.",
    "Identity check failed although I entered my SSN ({ssn}) and ZIP {zip} correctly.",
    "Reference number {refnum} from your hotline did not help. The {sku} adapter still overheats.",
    "Please send the invoice to {email:b} instead of my personal address.",
)

_TICKET_CLOSINGS = (
    "",
    "\n\nThanks, {first}",
    "\n\nRegards,\n{person}",
    "\n\n-- sent from {product} app",
    "\n\nCall back: {phone}",
    "\n\nThanks in advance.",
)


def _support_ticket(row: _Row, pii: bool) -> str:
    body = " ".join(row.pick(_TICKET_BODIES, pii) for _ in range(row.r.choice((1, 1, 2))))
    return row.pick(_TICKET_HEADERS, pii) + body + row.pick(_TICKET_CLOSINGS, pii)


_EMAIL_HEADERS = (
    "",
    "",
    "From: {person} <{email}>\nTo: {email:b}\nSubject: Re: order {order}\n\n",
    "To: {email:b}\nSubject: Invoice {invoice_no}\n\n",
    "Subject: Meeting on {date}\n\n",
)
_GREETINGS = (
    "Hi {first:b},",
    "Dear {title_last:b},",
    "Hello team,",
    "Good morning,",
    "Dear {title_person:b},",
    "Hi all,",
    "Hey {first:b},",
    "Dear Sir or Madam,",
)
_EMAIL_BODIES = (
    "Thanks for getting back to me. I've attached the signed contract for {company}; please confirm by {date}.",
    "As discussed, deliveries should now go to {address}. Please update order {order} accordingly.",
    "Could you call me back on {phone}? I'm in meetings until {time}.",
    "Please send the refund to {iban} (account holder: {person}).",
    "Version {version} is live on staging; release notes are at {url}.",
    "The shipment left our warehouse on {date} with tracking number {tracking}.",
    "I've copied {person:c} ({email:c}), who takes over the account from next week.",
    "Our invoice {invoice_no} for {price} is still open. Kindly transfer the amount by {date}.",
    "The {product} you ordered is back in stock; we reserved {qty} units under order {order}.",
    "Quick reminder that the office is closed on {date}. Urgent issues go to the on-call line {phone:d}.",
    "The quote for {company} is {price} excluding VAT, valid until {date}.",
    "Can we move our call to {time}? If that doesn't work, {first:c} can join instead.",
    "For payroll we still need your Social Security number; the one on file ({ssn}) fails validation.",
    "Welcome aboard! Your start date is {date}. Please bring ID; we have your SSN as {ssn}.",
)
_SIGNOFFS = ("Best regards,", "Kind regards,", "Thanks,", "Cheers,", "Best,", "Many thanks,", "Regards,")
_SIGNATURES = (
    "{person}\n{job} | {company}\nTel: {phone}\n{email}",
    "{person}\n{company}\n{address_ml}\nPhone {phone} | {email}",
    "{first}",
    "{person}\nM: {phone}\nE: {email}",
    "{title_person}\n{job}\n{company} | {address}",
    "The {company} team\n{url}",
    "Customer Service\n{company}",
    "{person}\n{job}, {company}\n{address_ml}",
)


def _email_text(row: _Row, pii: bool) -> str:
    body = " ".join(row.pick(_EMAIL_BODIES, pii) for _ in range(row.r.choice((1, 2, 2, 3))))
    return (row.pick(_EMAIL_HEADERS, pii) + row.pick(_GREETINGS, pii) + "\n\n" + body + "\n\n"
            + row.r.choice(_SIGNOFFS) + "\n" + row.pick(_SIGNATURES, pii))  # fmt: skip


_CHAT_MESSAGES = (
    "can someone check {ip}? it stopped responding",
    "customer {person:c} called again, number is {phone:c}",
    "deployed {version} to prod",
    "ping @{handle:c}",
    "{first:b} said the invoice went to {email:b}",
    "ok",
    "on it",
    "ticket {ticket} is mine",
    "ship it to {address:c} please",
    "thx {first:b}!",
    "lol",
    "the IBAN they gave us is {iban}",
    "tracking is {tracking}",
    "build {hash} is green",
    "who has the {product} demo unit?",
    "order {order} refunded",
    "lunch at {time}?",
    "new laptop for {first:c} arrives {date}",
    "can you mail {email:c} the contract",
    "brb",
    "their office moved to {street:c}",
    "meeting moved to {time}",
    "the card they read out was {card}",
    "blocked {ipv4:b} on the firewall",
    "{first:a} is out sick today",
)


def _chat(row: _Row, pii: bool) -> str:
    r = row.r
    keys = ("a", "b", "e")[: r.choice((2, 2, 3))]
    for key in keys:  # the personas first, so a speaker's handle can be made from the name others call them
        row.persona(key)
    speakers = [f"{{handle:{k}}}" for k in keys]
    layout = r.choice(("[{time}] {who}: ", "{who} ({time}): ", "<{who}> ", "{who}: "))
    lines, minute = [], r.randint(7 * 60, 18 * 60)
    for _ in range(r.randint(2, 6)):
        minute += r.choice((0, 0, 1, 1, 2, 3, 7, 15))  # time stamps go forward
        stamp = f"{minute // 60 % 24:02d}:{minute % 60:02d}"
        lines.append(layout.format(time=stamp, who=r.choice(speakers)) + row.pick(_CHAT_MESSAGES, pii))
    return "\n".join(lines)


_CRM_NOTES = (
    "{date} - Call with {person} ({job} at {company}). Interested in {product}; budget around {price}. "
    "Follow up via {email} or {phone}.",
    "Met {title_person} at the trade fair. Wants a demo on {date}. Billing address: {address}.",
    "Renewal meeting with {company} moved to next week. Quote {invoice_no} sent ({price}).",
    "{first} prefers calls after {time}; mobile {phone}. Decision maker is {person:b}.",
    "Lead from web form, ref {ticket}. Company {company}, {num} seats. No contact details yet.",
    "Customer asked to remove {email} from newsletters. Done on {date}.",
    "Account {custno}: payment by SEPA, IBAN {iban}. Mandate signed {date}.",
    "Left voicemail for {title_last}. Second attempt {date}. Opportunity value {price}.",
    "Churn risk: {company} complained about outages on {date}. Escalated as {ticket}.",
    "Visit planned at {address}, ask for {first:b} at reception.",
    "Discount of {pct} approved for order {order}. Contract start {date}.",
    "Credit application for {person}: SSN {ssn}, employer {company}, requested limit {price}.",
)


def _crm_note(row: _Row, pii: bool) -> str:
    notes = [row.pick(_CRM_NOTES, pii) for _ in range(row.r.choice((1, 1, 2)))]
    prefix = row.r.choice(("", "Note: ", "CRM note - ", "Activity log:\n"))
    return prefix + "\n".join(notes)


_LOG_LINES = (
    "{syslog_ts} {host} sshd[{pid}]: Failed password for invalid user {handle} from {ipv4} port {port} ssh2",
    "{syslog_ts} {host} sshd[{pid}]: Accepted publickey for {handle:b} from {ip} port {port} ssh2",
    "{syslog_ts} {host} postfix/smtp[{pid}]: {hash}: to=<{email}>, relay={fqdn}[{ipv4:b}]:25, status=sent",
    "{syslog_ts} {host} kernel: [{dur}] eth0: link up, 1000 Mbps full duplex",
    "{syslog_ts} {host} CRON[{pid}]: (root) CMD (/usr/local/bin/backup.sh --since {date})",
    '{ip} - - [{clf_ts}] "GET {path} HTTP/1.1" {status} {bytes} "-" "{ua}"',
    '{ipv4:c} - {handle:c} [{clf_ts}] "POST {path} HTTP/2.0" {status} {bytes} "-" "{ua}"',
    '{"ts": "{iso_ts}", "level": "INFO", "event": "login_success", "user": "{handle}", "email": "{email}", "ip": "{ip}"}',
    '{"ts": "{iso_ts}", "level": "WARN", "msg": "payment declined", "order": "{order}", "card_last4": "{last4}", "amount": "{price}"}',
    '{"ts": "{iso_ts}", "level": "ERROR", "msg": "webhook failed", "url": "{url}", "attempt": {num}, "trace_id": "{hash}"}',
    '{"level": "info", "customer_name": "{person}", "phone": "{phone}", "order": "{order}", "request_id": "{uuid}"}',
    "{iso_ts} INFO  [auth] password reset requested for {email} from {ip}",
    "{iso_ts} DEBUG [billing] charge ok order={order} amount={price} card=****{last4}",
    "{iso_ts} ERROR [worker-{num}] job {uuid} failed after {dur}s: timeout contacting {fqdn}",
    "{iso_ts} INFO  [release] {host} upgraded to {version} (commit {hash})",
    "{iso_ts} WARN  [geo] rate limit hit for client {ipv6}",
)


def _log(row: _Row, pii: bool) -> str:
    return "\n".join(row.pick(_LOG_LINES, pii) for _ in range(row.r.randint(1, 5)))


_FORM_LABELS: dict[str, dict[str, str]] = {
    "en": {"name": "Name", "email": "Email", "phone": "Phone", "address": "Address", "message": "Message",
           "order": "Order number", "date": "Preferred date", "company": "Company", "ssn": "SSN",
           "card": "Card number", "iban": "IBAN", "zip": "ZIP code", "product": "Product"},
    "de": {"name": "Name", "email": "E-Mail", "phone": "Telefon", "address": "Adresse", "message": "Nachricht",
           "order": "Bestellnummer", "date": "Wunschtermin", "company": "Firma", "card": "Kartennummer",
           "iban": "IBAN", "zip": "PLZ", "product": "Produkt"},
    "fr": {"name": "Nom", "email": "Courriel", "phone": "Téléphone", "address": "Adresse", "message": "Message",
           "order": "N° de commande", "date": "Date souhaitée", "company": "Société", "card": "N° de carte",
           "iban": "IBAN", "zip": "Code postal", "product": "Produit"},
    "es": {"name": "Nombre", "email": "Correo", "phone": "Teléfono", "address": "Dirección", "message": "Mensaje",
           "order": "N.º de pedido", "date": "Fecha", "company": "Empresa", "card": "Tarjeta", "iban": "IBAN",
           "zip": "Código postal", "product": "Producto"},
}  # fmt: skip

_FORM_VALUES = {
    "name": "{person}", "email": "{email}", "phone": "{phone}", "address": "{address}", "order": "{order}",
    "date": "{date}", "company": "{company}", "ssn": "{ssn}", "card": "{card}", "iban": "{iban}", "zip": "{zip}",
    "product": "{product}",
}  # fmt: skip
_FORM_MESSAGES = (
    "Please call me back about my order.",
    "Where is my parcel? Tracking {tracking}.",
    "I want to return the {product}.",
    "Interested in a quote for {num} licences.",
    "Please deliver to the back entrance.",
    "Invoice {invoice_no} is wrong.",
)


def _web_form(row: _Row, pii: bool) -> str:
    r = row.r
    labels = _FORM_LABELS.get(row.lang, _FORM_LABELS["en"])
    fields = [f for f in ("name", "email", "phone", "address", "company", "order", "date", "zip", "product",
                          "ssn", "card", "iban") if f in labels]  # fmt: skip
    if row.locale != "en_US":
        fields = [f for f in fields if f != "ssn"]
    elif pii and r.random() < 0.4:
        fields += ["ssn", "ssn"]  # US forms (HR, credit applications) ask for it often
    if not pii:
        fields = [f for f in fields if not has_pii(_FORM_VALUES[f])]
    chosen = list(dict.fromkeys(r.sample(fields, k=min(len(fields), r.randint(2, 5)))))
    if pii and "name" not in chosen and r.random() < 0.7:
        chosen.insert(0, "name")
    layout = r.choice(("{k}: {v}", "{k}: {v}", "{k} = {v}", "{k}\t{v}", "**{k}:** {v}", "{k}:\n{v}"))
    lines = [layout.replace("{k}", labels[f]).replace("{v}", _FORM_VALUES[f]) for f in chosen]
    if r.random() < 0.5:
        lines.append(layout.replace("{k}", labels["message"]).replace("{v}", r.choice(_FORM_MESSAGES)))
    head = r.choice(("", "", "New contact form submission\n", "Form: callback request\n---\n"))
    return head + "\n".join(lines)


_BILL_TO = (
    "Bill to:\n{person}\n{address_ml}",
    "Billing address:\n{company}\nAttn: {title_person}\n{address_ml}",
    "Customer: {person}, {address}",
    "Bill to: {company} (customer no. {custno})",
    "Customer no. {custno}",
    "Ship to:\n{person}\n{address_ml}\nPhone: {phone}",
)
_PAYMENTS = (
    "Payment: bank transfer to IBAN {iban} (BIC {bic}) within 14 days.",
    "Paid by Visa ending in {last4} on {date}.",
    "Card charged: {card}",
    "Paid via PayPal ({email}) on {date}.",
    "Please pay by {date} quoting {invoice_no}. Bank: IBAN {iban}",
    "Payment received with thanks ({date}).",
    "Charged to card **** **** **** {last4}.",
    "Direct debit from {iban}, mandate ref. {hash}.",
)


def _invoice(row: _Row, pii: bool) -> str:
    r = row.r
    items = "\n".join(
        f"  {{product:{i}}}  x{{qty:{i}}}  {{price:{i}}}  ({{sku:{i}}})" for i in range(r.randint(1, 3))
    )
    head = r.choice(("INVOICE {invoice_no}\nDate: {date}\n", "Invoice no. {invoice_no} - {date}\n{company}\n",
                     "Rechnung {invoice_no} vom {date}\n", "Tax invoice {invoice_no}\nOrder: {order}\n"))  # fmt: skip
    return (head + "\n" + row.pick(_BILL_TO, pii) + "\n\nItems:\n" + items + "\nTotal: {price:t}\n\n"
            + row.pick(_PAYMENTS, pii))  # fmt: skip


_ONE_LINERS = (
    "Call me at {phone}.",
    "my iban is {iban}",
    "SSN: {ssn}",
    "Server {ip} is down again.",
    "Contact {person} at {email}.",
    "Send it to {address}.",
    "card no {card} exp 09/27",
    "Reach {first} on {phone}, after {time} only.",
    "Your order {order} has shipped, tracking {tracking}.",
    "Version {version} fixes the crash on startup.",
    "Meeting moved to {date} at {time}.",
    "Total due: {price}. Invoice {invoice_no}.",
    "Ticket {ticket} closed.",
    "UUID {uuid} not found",
    "The {product} is back in stock for {price}.",
    "Refund issued to card ending in {last4}.",
    "Order line {refnum} cancelled.",
    "Our new office: {address}.",
    "ZIP {zip} is outside our delivery area.",
    "Login from new device at {ipv6}.",
    "Please wire {price} to {iban}.",
    "Read more at {url}",
    "{company} confirmed the order {order}.",
    "Hash {hash} matches.",
    "Thanks {first}, got it!",
    "Ask {title_last} to sign the form.",
    "{person}, {phone}, {email}",
    "ssn {ssn} dob {date}",
    "Tax ID on file for {first}: {ssn}",
)
_ONE_LINERS_LOCAL: dict[str, tuple[str, ...]] = {
    "de": ("Bitte rufen Sie mich unter {phone} zurück.", "Meine IBAN lautet {iban}.",
           "Die Lieferung geht an {address}.", "Bestellung {order} wurde am {date} versandt.",
           "Rechnung {invoice_no} über {price} ist noch offen.", "Grüße an {title_last}!"),
    "fr": ("Merci de me rappeler au {phone}.", "Mon IBAN : {iban}", "Livraison à {address}.",
           "Votre commande {order} a été expédiée le {date}.", "Facture {invoice_no} : {price}."),
    "es": ("Llámame al {phone}, por favor.", "Mi IBAN es {iban}.", "Envíalo a {address}.",
           "Tu pedido {order} sale el {date}.", "Factura {invoice_no} por {price} pendiente."),
}  # fmt: skip


def _one_liner(row: _Row, pii: bool) -> str:
    local = _ONE_LINERS_LOCAL.get(row.lang)
    pool = local if local and row.r.random() < 0.5 else _ONE_LINERS
    return row.pick(pool, pii)


_GENRE_BUILDERS: dict[str, Callable[[_Row, bool], str]] = {
    "support_ticket": _support_ticket,
    "email": _email_text,
    "chat": _chat,
    "crm_note": _crm_note,
    "log": _log,
    "web_form": _web_form,
    "invoice": _invoice,
    "one_liner": _one_liner,
}

# ------------------------------------------------------------------------------------------------ API


def _fakers(r: random.Random) -> dict[str, Any]:
    from faker import Faker  # imported here: Faker is slow to import and only the generator needs it

    fakers: dict[str, Any] = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(r.getrandbits(32))
        fakers[locale] = fake
    return fakers


def generate_pii_rows(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """`count` rows `{text, spans: [{start, end, label}], genre, locale}`, the same for the same seed.

    Spans are sorted, non-overlapping Python-str offsets (end exclusive) and `text[start:end]` is exactly the
    inserted value; about `NO_PII_SHARE` of the rows have no span.
    """
    r = random.Random(seed)
    fakers = _fakers(r)
    locales, weights = list(LOCALES), list(LOCALES.values())
    rows: list[dict[str, Any]] = []
    for _ in range(count):
        locale = r.choices(locales, weights)[0]
        genre = r.choice(GENRES)
        row = _Row(r, fakers[locale], locale)
        pii = r.random() >= NO_PII_SHARE
        template = _GENRE_BUILDERS[genre](row, pii)
        for _attempt in range(10):  # a PII row should hold at least one PII slot
            if not pii or has_pii(template):
                break
            template = _GENRE_BUILDERS[genre](row, pii)
        text, spans = row.render(template)
        rows.append({"text": text, "spans": spans, "genre": genre, "locale": locale})
    return rows


def write_pii_jsonl(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> None:
    """Write the rows as JSONL, atomically (temp file + rename)."""
    from maaza.io import write_jsonl

    write_jsonl(path, rows)
