"""Secrets for the embedded demo: generated once into the instance folder with mode 0600.

In production every secret comes from the environment; nothing here is ever logged.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def file_secret(path: Path, nbytes: int = 32) -> str:
    """Read a secret from ``path``, creating it (0600, atomically) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise PermissionError(f"{path} must not be readable by group or others (chmod 600).") from None
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        value = secrets.token_urlsafe(nbytes)
        f.write(value)
    return value
