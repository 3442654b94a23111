"""The landing folder: which files are event files, on local disk or in object storage.

Paths found by listing are used as literal paths from then on (never as glob patterns), so any
character a file system allows in a name is safe. Object storage (`s3://`, `gs://`, `az://`) is
read through fsspec (`pip install .[cloud]`); credentials come from each SDK's own environment and
config files.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from event_analytics.project import ConfigError

URL_SCHEMES = ("s3", "gs", "gcs", "az", "abfs", "abfss", "memory")
SYMLINK_POLICIES = ("inside", "never", "always")
# Never event files: hidden and temporary names, as writers and object stores leave them.
IGNORED_PREFIXES = (".", "_")
IGNORED_SUFFIXES = (".tmp", ".part", ".crc")
UNMATCHED_SHOWN = 5


@dataclass(frozen=True)
class LandingFile:
    path: str  # relative to the landing root, with `/`: the warehouse's source_file
    size: int
    modified_us: int  # microseconds since the epoch
    etag: str | None = None


@dataclass(frozen=True)
class RejectedFile:
    path: str
    reason: str
    size: int | None
    detail: str


@dataclass
class Listing:
    files: list[LandingFile] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    # Symlinks not followed, by the landing_follow_symlinks policy.
    skipped_links: list[str] = field(default_factory=list)


def is_url(landing: str | Path) -> bool:
    return isinstance(landing, str) and re.match(r"^[a-z][a-z0-9+.-]*://", landing) is not None


def landing_root(landing: str | Path) -> str:
    """The root as one string: an absolute local path or a URL without its trailing slash."""
    if is_url(landing):
        scheme = str(landing).split("://", 1)[0]
        if scheme not in URL_SCHEMES:
            raise ConfigError(
                f"landing {landing}: unsupported scheme {scheme}:// (use a folder, s3://, gs:// or az://)"
            )
        return str(landing).rstrip("/")
    return str(Path(landing).resolve())


@cache
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A landing_patterns glob as a regex over the relative path: `**/` is any number of folders,
    `*` and `?` stay within a name, `[...]` is a character class."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.sub(r"([\\\]^])", r"\\\1", body[1:] if negate else body)
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    # DOTALL: a newline is a character a name may hold
    return re.compile("".join(out), re.DOTALL)


def check_patterns(patterns: Any) -> list[str]:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ConfigError("var landing_patterns must be a non-empty list of globs, e.g. ['**/*.jsonl.gz']")
    for pattern in patterns:
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise ConfigError(f"var landing_patterns: {pattern!r} must stay below the landing root")
    return patterns


def matches(path: str, patterns: list[str]) -> bool:
    return any(_pattern_regex(p).fullmatch(path) for p in patterns)


def is_ignored(path: str) -> bool:
    return any(part.startswith(IGNORED_PREFIXES) or part.endswith(IGNORED_SUFFIXES) for part in path.split("/"))


def list_landing(root: str, patterns: list[str], follow_symlinks: str = "inside") -> Listing:
    patterns = check_patterns(patterns)
    if follow_symlinks not in SYMLINK_POLICIES:
        raise ConfigError(
            f"var landing_follow_symlinks must be one of {', '.join(SYMLINK_POLICIES)}, not {follow_symlinks!r}"
        )
    if is_url(root):
        return _list_remote(root, patterns)
    if not os.path.isdir(root):
        raise ConfigError(f"landing folder {root} does not exist")
    try:
        os.scandir(root).close()
    except OSError as exc:
        # a root that cannot be listed is a bad path, not an empty delivery to publish
        raise ConfigError(f"landing folder {root} cannot be read: {_os_detail(exc)}") from None
    return _list_local(root, patterns, follow_symlinks)


def _list_local(root: str, patterns: list[str], follow_symlinks: str) -> Listing:
    listing = Listing()
    real_root = os.path.realpath(root)
    seen_dirs = {real_root}

    def walk(folder: str, prefix: str) -> None:
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            listing.rejected.append(RejectedFile(prefix.rstrip("/") or ".", "unreadable", None, _os_detail(exc)))
            return
        for entry in entries:
            path = prefix + entry.name
            if is_ignored(entry.name):
                continue
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    inside = target == real_root or target.startswith(real_root + os.sep)
                    if follow_symlinks == "never" or (follow_symlinks == "inside" and not inside):
                        listing.skipped_links.append(path)
                        continue
                info = os.stat(entry.path)
            except OSError as exc:
                listing.rejected.append(RejectedFile(path, "unreadable", None, _os_detail(exc)))
                continue
            if stat.S_ISDIR(info.st_mode):
                real = os.path.realpath(entry.path)
                if real not in seen_dirs:  # a link back up the tree is walked once
                    seen_dirs.add(real)
                    walk(entry.path, path + "/")
            elif not stat.S_ISREG(info.st_mode):
                continue
            elif matches(path, patterns):
                listing.files.append(LandingFile(path, info.st_size, info.st_mtime_ns // 1000))
            else:
                listing.unmatched.append(path)

    walk(root, "")
    return listing


def _os_detail(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def filesystem(root: str) -> Any:
    """The fsspec filesystem for a URL root."""
    try:
        import fsspec
    except ImportError as exc:
        raise ConfigError(
            f"reading {root} needs fsspec and its filesystem: pip install 'event-analytics[cloud]'"
        ) from exc
    protocol = root.split("://", 1)[0]
    try:
        return fsspec.filesystem(protocol)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"no filesystem for {protocol}://: {exc} (pip install 'event-analytics[cloud]')") from exc


def _remote_stamp(info: dict[str, Any]) -> int:
    for key in ("LastModified", "last_modified", "updated", "mtime", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return int(value.timestamp() * 1_000_000)
        if isinstance(value, int | float):
            return int(value * 1_000_000)
        if isinstance(value, str):
            import datetime as dt

            return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000)
    return 0


def _list_remote(root: str, patterns: list[str]) -> Listing:
    fs = filesystem(root)
    listing = Listing()
    bare_root = fs._strip_protocol(root).rstrip("/")
    try:
        found = fs.find(bare_root, detail=True, withdirs=False)
    except FileNotFoundError as exc:
        raise ConfigError(f"landing {root} does not exist") from exc
    except OSError as exc:
        raise ConfigError(f"landing {root} cannot be listed: {_os_detail(exc)}") from exc
    for name, info in sorted(found.items()):
        path = name[len(bare_root) :].lstrip("/")
        # A key ending in `/` is a folder marker (the S3 console's "Create folder"), not a file.
        if not path or path.endswith("/") or is_ignored(path) or info.get("type") == "directory":
            continue
        if not matches(path, patterns):
            listing.unmatched.append(path)
            continue
        etag = info.get("ETag") or info.get("etag") or info.get("md5Hash")
        listing.files.append(
            LandingFile(path, int(info.get("size") or 0), _remote_stamp(info), str(etag).strip('"') if etag else None)
        )
    return listing


def opener(root: str, path: str) -> Callable[[], BinaryIO]:
    """How to open one listed file for reading, as a literal path."""
    if is_url(root):
        fs = filesystem(root)
        full = fs._strip_protocol(root).rstrip("/") + "/" + path
        return lambda: fs.open(full, "rb")
    full_path = os.path.join(root, *path.split("/"))
    return lambda: open(full_path, "rb")  # noqa: SIM115 - the reader closes it


def current_stamp(root: str, path: str) -> tuple[int, int] | None:
    """(size, modified_us) of a file or object now, as listing gives them; None when it cannot be
    stat'ed. Objects can be overwritten too (the ledger's changed_after_load): what was loaded is
    only reread, and a read only kept, while the object is still the one listed."""
    if is_url(root):
        fs = filesystem(root)
        full = fs._strip_protocol(root).rstrip("/") + "/" + path
        try:
            fs.invalidate_cache(full)  # a listing this process made may be stale
            info = fs.info(full)
        except Exception:  # noqa: BLE001 - fsspec and SDK errors: unknown, as for a local OSError
            return None
        return int(info.get("size") or 0), _remote_stamp(info)
    try:
        info = os.stat(os.path.join(root, *path.split("/")))
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns // 1000
