"""One run at a time per output: an exclusive OS lock on `<out>.lock`, held from before the model
loads until the run ends (see llava_cli.batch.ownership, which takes it as part of a claim)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import OutputError

LOCK_MARK = "llava-cli output lock"


def lock_path(out: str | Path) -> Path:
    return Path(f"{out}.lock")


class OutputLock:
    """An exclusive lock on `<out>.lock`, released by the OS if the process dies (kill -9 included).

    The lock file holds a marker and the holder's pid, so a second run can say who has it; it is
    removed on release (before unlocking, and a new holder checks it locked the file that is
    still there, so two runs never hold two different lock files of one name).
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.path = lock_path(out)
        self._fd: int | None = None

    def acquire(self) -> "OutputLock":
        """Take the lock or raise OutputError (held by another run, or not a lock file of ours)."""
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"--out {self.out}: cannot create {self.path.name} beside it ({exc.strerror})") from exc
            if not _try_lock(fd):
                holder = _read_marker(fd)
                os.close(fd)
                by = f" (pid {holder})" if holder else ""
                raise OutputError(
                    f"{self.out} is in use by another llava-cli run{by}; wait for it to finish, or choose another --out"
                )
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the last holder removed it between our open and our lock: open it anew
                os.close(fd)
                continue
            if os.fstat(fd).st_size and _read_marker(fd) is None:
                os.close(fd)
                raise OutputError(f"{self.path} exists and is not a llava-cli lock file; move it away, or choose another --out")
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{LOCK_MARK}\npid {os.getpid()}\n".encode())
            self._fd = fd
            return self
        raise OutputError(f"{self.out}: could not take its lock file {self.path}; try again")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except PermissionError:  # Windows: an open file cannot be removed; it stays, harmlessly
            os.close(self._fd)
        else:
            os.close(self._fd)  # closing drops the lock
        self._fd = None


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_marker(fd: int) -> str | None:
    """The holder's pid written in a lock file ('' when it has none yet); None if not a lock file."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 200).decode("utf-8", "replace")
    if not text:
        return ""
    if not text.startswith(LOCK_MARK):
        return None
    return text.partition("pid ")[2].strip()
