"""Reading text (query parameters, form fields) into values of a Document's fields.

A faceted search, the API integrations and any view that filters on what a user typed need the
same answer: is ``"12"`` a value of this field, and which one? :func:`parse_value` answers from
the field's type in the Document's mapping, and refuses with :class:`InvalidParameter` (naming
the parameter and saying what is expected) anything Elasticsearch would refuse, so a bad value
is the user's error before a request is sent, never the node's.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import UTC, date, datetime
from typing import Any

from .adapters import mapped_field

__all__ = ["InvalidParameter", "field_type", "parse_datetime", "parse_value"]

#: The integer types of Elasticsearch and their ranges.
INTEGER_RANGES = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsigned_long": (0, 2**64 - 1),
}
#: The floating-point types and the largest magnitude each holds.
FLOAT_LIMITS = {
    "half_float": 65504.0,
    "float": 3.4028234663852886e38,
    "scaled_float": 1.7976931348623157e308,
    "double": 1.7976931348623157e308,
}
DATE_TYPES = ("date", "date_nanos")
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class InvalidParameter(ValueError):
    """A value that does not fit the parameter that carries it; ``name`` is the parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def field_type(document: Any, path: str) -> str | None:
    """Return the mapping type of ``path`` (e.g. ``"price"``, ``"title.raw"``) in a Document,
    or None when the Document does not map it."""
    found = mapped_field(document, path)
    return getattr(found, "name", None) or None


def parse_datetime(name: str, raw: str) -> datetime:
    """Return the ISO 8601 date or date-time ``raw`` as a naive UTC datetime (as Elasticsearch
    compares dates, and as elasticsearch.dsl reads histogram buckets)."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidParameter(
            name, f"{name}: {_shown(raw)} is not a date; use ISO 8601, e.g. 2026-12-03."
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def parse_value(document: Any, path: str, raw: Any, name: str | None = None) -> Any:
    """Return ``raw`` (text) as a value of the Document's field ``path``.

    Numbers within the field type's range, booleans (true/false, 1/0, yes/no, on/off), ISO
    8601 dates, IP addresses; text for keyword and text fields and fields the Document does not
    map. A value that is not text (already parsed) is returned as it is. Raise
    :class:`InvalidParameter` naming ``name`` (default: ``path``).
    """
    name = name or path
    if not isinstance(raw, str):
        return raw
    kind = field_type(document, path)
    text = raw.strip()
    if kind in INTEGER_RANGES:
        low, high = INTEGER_RANGES[kind]
        try:
            if not text.lstrip("+-").isdigit() or len(text) > 21:
                raise ValueError
            number = int(text)
        except ValueError:
            raise InvalidParameter(name, f"{name}: {_shown(raw)} is not a whole number.") from None
        if not low <= number <= high:
            raise InvalidParameter(name, f"{name}: {number} is outside {low}..{high}.")
        return number
    if kind in FLOAT_LIMITS:
        try:
            if len(text) > 40:
                raise ValueError
            number_f = float(text)
        except ValueError:
            raise InvalidParameter(name, f"{name}: {_shown(raw)} is not a number.") from None
        limit = FLOAT_LIMITS[kind]
        if not math.isfinite(number_f) or abs(number_f) > limit:
            raise InvalidParameter(name, f"{name}: {_shown(raw)} is outside ±{limit:g}.")
        return number_f
    if kind == "boolean":
        lowered = text.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise InvalidParameter(name, f"{name}: {_shown(raw)} is not true or false.")
    if kind in DATE_TYPES:
        value = parse_datetime(name, text)
        return value.date() if len(text) == 10 else value
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise InvalidParameter(name, f"{name}: {_shown(raw)} is not an IP address.") from None
    return raw


def to_text(value: Any) -> str:
    """Return the text that :func:`parse_value` reads back as ``value`` (for links, cursors
    and JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _shown(raw: str, limit: int = 40) -> str:
    """Quote a user's value in a message, cut to ``limit`` characters."""
    return repr(raw if len(raw) <= limit else raw[:limit] + "…")
