"""Keeping freed buffers for reuse, so that a read does not fault its way through fresh pages.

A read allocates and frees buffers of about a megabyte all the time: a chunk of the file, an inflated
piece, a joined region, the output of a decompress call growing to its size. glibc's malloc gives large
freed blocks back to the kernel as soon as a small, sliding amount sits free at the top of its heap,
and the next buffer then faults in zeroed pages, 4 KiB at a time, at ~1-3 µs each on a virtual machine.
Measured on 1 GiB exports: 45,000 faults in the main process for NDJSON and 110,000 for NDJSON in a ZIP
(the inflate output and the joins it feeds), 30,000-47,000 in the helper; most of what a ZIP cost
beyond inflating it.

Fixed thresholds keep those buffers resident between uses: blocks under `MMAP_THRESHOLD` come from the
heap, and up to `TRIM_THRESHOLD` may stay free at its top (glibc's own sliding threshold reaches that
after the first 4 MiB block is freed). Faults then fall to a few hundred per GiB, at the same peak RSS.
Only glibc is told; other C libraries keep their own policy.
"""

from __future__ import annotations

import ctypes
import functools
import sys

MMAP_THRESHOLD = 4 << 20  # a region's slot (helpers.SLOT_BYTES): the largest buffer a read reuses often
TRIM_THRESHOLD = 8 << 20
_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3


@functools.cache
def keep_freed_buffers() -> bool:
    """Set glibc's malloc thresholds for this process (once); False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc's own symbol: musl also has a mallopt, which ignores these
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
