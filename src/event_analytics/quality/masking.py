"""Offending values shown to people (CLI, alerts) with the personal data in them masked."""

from __future__ import annotations

import re

MAX_SHOWN = 80


def mask(value: str, patterns: dict[str, str]) -> str:
    """Each match of a plan PII pattern becomes its first character, '***' and its kind, e.g.
    'order for s***(email)': enough to find the row, not enough to read the data."""
    for kind, pattern in patterns.items():
        value = re.sub(pattern, lambda match, kind=kind: f"{match.group(0)[:1]}***({kind})", value)
    return value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 1] + "…"
