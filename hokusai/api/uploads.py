"""An upload spooled to disk as it arrives: bounded memory, the size cap enforced while streaming.

The bytes go to a private temp file under the API's spool folder (``$HOKUSAI_HOME/uploads``),
its MD5 (the drop zone's ETag) taken on the way; only a complete upload within the cap is
then put into the drop zone (``drop_spooled``), so a refused or broken one leaves nothing
there. Writes are batched to ``FLUSH_BYTES`` and done off the event loop.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

FLUSH_BYTES = 1 << 20


class UploadTooLarge(ValueError):
    """The body passed the cap; ``announced``: it said so in Content-Length before being read."""

    def __init__(self, cap: int, announced: int | None = None):
        self.cap, self.announced = cap, announced
        super().__init__(f"the upload is {announced} bytes; at most {cap} are accepted" if announced is not None
                         else f"the upload is larger than {cap} bytes, the most accepted; nothing was stored")


class Spool:
    """One upload's temp file; ``add`` chunks, then ``finish``; ``discard`` always (idempotent)."""

    def __init__(self, folder: Path, cap: int):
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=folder)
        self.path, self.cap, self.size = Path(name), cap, 0
        self._file = os.fdopen(fd, "wb")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def add(self, chunk: bytes) -> bool:
        """Count ``chunk``; True when enough is pending that ``flush`` should run (in a thread)."""
        self.size += len(chunk)
        if self.size > self.cap:
            raise UploadTooLarge(self.cap)
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        return self._pending_bytes >= FLUSH_BYTES

    def flush(self) -> None:
        data = b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        self._md5.update(data)
        self._file.write(data)

    def finish(self) -> str:
        """Write the rest and make it durable; the MD5 hex digest of everything added."""
        self.flush()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._md5.hexdigest()

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)
