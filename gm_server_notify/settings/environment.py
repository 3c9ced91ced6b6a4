"""The readers of the environment every settings module uses, and the folders the embedded
defaults keep their files in.

Each reader takes the variable's name first, as a literal (tests/gm_server_notify/
test_configuration_docs.py finds every variable the settings read that way, and checks that
docs/configuration.md documents it). A value a reader cannot take stops the process at start-up
with ``ImproperlyConfigured`` naming the variable.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from gm_server_notify import durations

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Where the embedded defaults (SQLite, the filesystem broker, the file cache, generated secrets)
# keep their files.
VAR_DIR = Path(os.environ.get("GM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()


def persistent_secret(file_name: str) -> str:
    """Return a random secret kept in ``VAR_DIR`` so every local process shares it.

    Used only when the operator did not set the variable: nothing secret lives in the code.
    """
    path = VAR_DIR / file_name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list; items are trimmed and empty ones dropped."""
    return [item.strip() for item in env.str(name, default=default).split(",") if item.strip()]


def env_json(name: str, default: str) -> Any:
    """A JSON value (its shape is checked by whoever reads it)."""
    raw = env.str(name, default=default)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: not JSON ({exc}) (docs/configuration.md)") from exc


def env_durations(name: str, default: str) -> list[float]:
    """A comma-separated list of durations in seconds (``10s,1m,5m,30m,2h``; a bare number is
    seconds; ``gm_server_notify.durations`` is the rule), each within 0 s to 7 d."""
    values = []
    for item in env_list(name, default=default):
        try:
            seconds = durations.seconds(item)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a duration such as 10s, 1m or 2h") from exc
        if not 0 <= seconds <= 7 * 86400:
            raise ImproperlyConfigured(f"{name}: {item!r} is outside 0 s to 7 d")
        values.append(seconds)
    return values


def env_hours(name: str, default: str) -> tuple[int, int] | None:
    """``HH:MM-HH:MM`` (or ``HH:MM:SS``), China time: the seconds of the day a window opens and
    closes (closing excluded; ``24:00`` is midnight; an opening after the closing spans midnight).
    Empty: no window."""
    raw = env.str(name, default=default).strip()
    if not raw:
        return None

    def seconds(part: str) -> int:
        pieces = part.strip().split(":")
        if len(pieces) not in (2, 3) or not all(piece.isdigit() for piece in pieces):
            raise ImproperlyConfigured(f"{name}: {raw!r} is not HH:MM-HH:MM (China time)")
        hours, minutes, secs = (int(piece) for piece in [*pieces, "0"][:3])
        value = hours * 3600 + minutes * 60 + secs
        if minutes > 59 or secs > 59 or value > 86400:
            raise ImproperlyConfigured(f"{name}: {part!r} is not a time of day")
        return value

    opening, _, closing = raw.partition("-")
    window = (seconds(opening), seconds(closing))
    if window[0] == window[1]:
        raise ImproperlyConfigured(f"{name}: the window {raw!r} is empty (leave it empty for none)")
    return window
