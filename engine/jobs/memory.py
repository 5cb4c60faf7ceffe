"""Peak resident memory of this process while one piece of work runs.

On Linux the kernel keeps the high-water mark (``VmHWM`` in
``/proc/self/status``); writing ``5`` to ``/proc/self/clear_refs`` resets it
to the current RSS, so each model's peak is its own, not the largest of the
models before it. Where that is unavailable a thread samples RSS instead.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from types import TracebackType

import psutil

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
SAMPLE_S = 0.01


def _status_kb(field: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_high_water_mark() -> bool:
    """Reset ``VmHWM`` to the current RSS; ``False`` when this kernel cannot."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    hwm, rss = _status_kb("VmHWM"), _status_kb("VmRSS")
    # a reset leaves the mark at (about) the current RSS; anything far above means it did not happen
    return hwm is not None and rss is not None and hwm <= rss + 1024


def release_freed() -> bool:
    """Hand the memory this process has freed back to the system; ``False`` where it cannot.

    glibc raises its mmap threshold after a large block is freed, so later arrays of up
    to 32 MB come from the heap and stay resident after they are freed: a worker that
    has dropped a large table would otherwise still hold it, and the next model's peak
    would start from there. ``malloc_trim`` returns those pages.
    """
    try:
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):  # not glibc
        return False


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.mb`` and ``peak.method`` (``vmhwm`` or ``sampled``)."""

    def __init__(self, *, use_kernel: bool = True) -> None:
        self.use_kernel = use_kernel
        self.mb: float | None = None
        self.method = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0

    def __enter__(self) -> PeakMemory:
        if self.use_kernel and reset_high_water_mark():
            self.method = "vmhwm"
        else:
            self.method = "sampled"
            self._peak = psutil.Process().memory_info().rss
            self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        proc = psutil.Process()
        while not self._stop.wait(SAMPLE_S):
            self._peak = max(self._peak, proc.memory_info().rss)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, psutil.Process().memory_info().rss)
            self.mb = self._peak / 2**20
        else:
            hwm = _status_kb("VmHWM")
            self.mb = hwm / 1024 if hwm is not None else None
