"""Child processes of the tests (redis-server, asr workers) die with the test run, even a run that is killed
without its fixtures' teardown: Linux's parent-death signal, set in a small exec trampoline (no preexec_fn,
which is unsafe while the gateway threads run)."""

from __future__ import annotations

import os
import sys

_TRAMPOLINE = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)  # the parent ended before the signal was set\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def dies_with_parent(argv: list[str]) -> list[str]:
    """`argv`, run so that it is killed when the process that started it ends (elsewhere than Linux: as is)."""
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-c", _TRAMPOLINE, str(os.getpid()), *argv]
