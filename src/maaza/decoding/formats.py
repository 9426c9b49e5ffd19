"""String-format patterns shared by the grammar compilers (constrained, grounded) and checked in tests.

One place for the regexes that stand in for JSON Schema `format`s: `constrained.prepare_schema` rewrites
`date-time` to `LENIENT_DATETIME_PATTERN`, `grounded` offers spans of the text that match `FORMAT_REGEX`.
"""

from __future__ import annotations

# ISO-8601 date-time, timezone optional. Fractional seconds are capped at 9 digits (nanoseconds) so a
# constrained model cannot emit an unbounded run of digits. ``[0-9]`` rather than ``\d``: Rust's ``\d``
# (used by llguidance) is Unicode-aware. Anchored so Python's ``re.search`` (jsonschema) agrees.
DATE_PATTERN = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"  # unanchored
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9](:([0-5][0-9]|60)(\.[0-9]{1,9})?)?"
_TZ = r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?"
LENIENT_DATETIME_PATTERN = f"^{DATE_PATTERN}T{_TIME}{_TZ}$"

# String formats llguidance 1.9 compiles (checked one by one); any other format is a compile error there.
LLG_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri"}
)

_STRICT_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?"
# Unanchored regexes of the formats a grounded grammar finds in a text (date-time: RFC 3339; the lenient
# form is a `pattern`, which grounded decoding matches like any other pattern).
FORMAT_REGEX = {
    "date": DATE_PATTERN,
    "date-time": f"{DATE_PATTERN}T{_STRICT_TIME}(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])",
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
