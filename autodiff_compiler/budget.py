"""The tape budget: how many bytes the reverse sweep's tapes of one call may take.

The generated code adds up the bytes of every tape, checkpoint array and tape growth before
it allocates it and raises errors.TapeMemoryError when the total would pass the budget, so
a long loop is refused (or, with checkpoint="auto", checkpointed) instead of running the
process out of memory. The default budget is half of the physical memory available when
a derivative is first called in the process (MemAvailable in /proc/meminfo; elsewhere the free pages
sysconf reports).
"""

from __future__ import annotations

import functools
import os

from .errors import GradientInputError

FRACTION = 0.5  # of the available physical memory, the default budget
UNLIMITED = 2 ** 62  # where the available memory cannot be read


def available_memory() -> int | None:
    """Bytes of physical memory available to new allocations, or None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


@functools.cache
def default_budget() -> int:
    """FRACTION of the available physical memory, in bytes (read once per process)."""
    available = available_memory()
    return UNLIMITED if available is None else int(available * FRACTION)


def check_budget(max_tape_bytes) -> int | None:
    """The `max_tape_bytes=` option checked: None (the default budget) or bytes (an int)."""
    if max_tape_bytes is None:
        return None
    if isinstance(max_tape_bytes, bool) or not isinstance(max_tape_bytes, int) \
            or max_tape_bytes < 0:
        raise GradientInputError("max_tape_bytes must be None (half of the available "
                                 "memory) or a number of bytes (an int >= 0)")
    return min(max_tape_bytes, UNLIMITED)


def resolve(max_tape_bytes: int | None) -> int:
    """The budget in bytes of a checked option."""
    return default_budget() if max_tape_bytes is None else max_tape_bytes
