"""The PII key: from the environment for scheduled runs, or a local file for `make run`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from event_analytics.project import ConfigError

PII_KEY_VARIABLE = "EVENT_ANALYTICS_PII_KEY"


def local_key_path(warehouse: Path) -> Path:
    """Beside the warehouse (outside git): hashes stay comparable across runs of one warehouse."""
    return warehouse.parent / "pii.key"


def resolve_pii_key(warehouse: Path, allow_local: bool) -> tuple[str, str | None]:
    """The key, and a message when a local key file was created.

    A scheduled run must bring its own key; `--dev-key` (used by `make run`) falls back to a key
    file created on first use, so that a fresh clone works out of the box.
    """
    key = os.environ.get(PII_KEY_VARIABLE, "")
    if key:
        return key, None
    if not allow_local:
        raise ConfigError(
            f"{PII_KEY_VARIABLE} is not set: a run needs a secret key to hash personal data "
            "(or --dev-key for a local key file, for development only)"
        )
    path = local_key_path(warehouse)
    if path.is_file():
        return path.read_text().strip(), None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key, (f"created a development PII key in {path} (not in git); scheduled runs must set {PII_KEY_VARIABLE}")
