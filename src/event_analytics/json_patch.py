"""RFC 7386 JSON merge patch (DuckDB's json_merge_patch) for Spark, which has none: a module of its
own, as Spark's Python workers import it to call `merge_patch_text` on staging's rows, and a
worker should not load the package's engines to do so."""

from __future__ import annotations

import json
from typing import Any


def merge_patch_text(target: str | None, patch: str | None) -> str | None:
    """RFC 7386 merge patch of two JSON texts (DuckDB's json_merge_patch), for batch members.

    Spark evaluates a Python function on every row of its input, also those a CASE keeps from
    it: text that is not JSON gives null, never a failed statement."""
    if target is None or patch is None:
        return None
    try:
        merged = merge_patch(json.loads(target), json.loads(patch))
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return None
    return json.dumps(merged, ensure_ascii=False, separators=(",", ":"))


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged
