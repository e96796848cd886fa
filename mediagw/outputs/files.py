"""What the gateway writes to disk is its own: the data directory 0700, the files in it 0600.

Transcripts, the redaction entity settings and the exports hold what callers said; other local users have no
business reading them. A directory that already exists is left as the operator made it, with a warning when
others may read it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> None:
    """Create `path` (and missing parents) as 0700; warn when an existing one is open to group or others."""
    if not path.exists():
        path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIRECTORY_MODE)  # mkdir's mode is masked by the umask; this is not
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is accessible to other users (mode %o): chmod 700 it to keep transcripts private", path, mode)


def private_file(path: Path) -> None:
    """Make sure `path` exists and only its owner may read or write it (before SQLite opens it, say)."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    os.chmod(path, FILE_MODE)


def private_fd(path: Path) -> int:
    """A descriptor for writing `path` from its start, which is created 0600 (for `open(fd, "w")`)."""
    return os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
