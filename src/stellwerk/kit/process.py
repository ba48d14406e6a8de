"""Child processes that must not outlive their parent."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

_PR_SET_NAME = 15  # linux/prctl.h
_PR_SET_PDEATHSIG = 1


def _prctl(option: int, value: int | bytes) -> None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when its parent dies (Linux), and go at once
    if the parent is gone already. A parent killed with SIGKILL runs no code that could stop its
    children; without this they would keep its ports and files."""
    _prctl(_PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def set_process_name(name: str) -> None:
    """The name `ps -o comm`, `top` and /proc/PID/comm show (at most 15 bytes on Linux)."""
    _prctl(_PR_SET_NAME, name.encode()[:15])


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1
