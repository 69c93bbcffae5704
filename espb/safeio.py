"""Safe outputs: one mechanism that every espb writer goes through.

Two functions, nothing else:

:func:`check_output`
    Refuses a target that would destroy data: one that resolves to one of the command's
    inputs (same path after symlinks, ``..`` and case, or another hard link to the same file)
    and one that exists but is not a regular file (a directory, ``/dev/null`` or another
    device, a FIFO, a socket). The :class:`~espb.errors.EspbError` names the path, the problem
    and the fix, so the CLIs print one line and exit with status 2.
:func:`atomic_write`
    A context manager that yields a fresh temporary path in the target's folder (a hidden
    name with the process id and a random suffix, created exclusively, so two writers never
    share it). The caller writes the whole file there; on success it is renamed over the
    target in one step (readers see the old file or the new one, never half of one); on any
    failure, ``KeyboardInterrupt`` included, the temporary file is removed and the target is
    left as it was. An ``OSError`` while creating the folder or writing (no space, read-only
    file system, no permission) becomes an ``EspbError`` naming the target.

Usage::

    from espb.safeio import atomic_write

    with atomic_write(out, inputs=[src]) as tmp:
        table.to_parquet(tmp)

The temporary name keeps the target's suffix (``.events.tmp-123-9f2c1a.parquet``), so writers
that choose a format from the file name (matplotlib) work unchanged.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from espb.errors import EspbError

PathLike = str | os.PathLike[str]

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file: equal real paths, or (both existing)
    the same device and inode, which also catches hard links."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def check_output(out: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Refuse ``out`` if it is one of ``inputs`` or exists as a non-regular file.

    Returns ``out`` as a :class:`~pathlib.Path`. ``None`` entries in ``inputs`` are ignored
    (optional inputs). Raises :class:`~espb.errors.EspbError` naming the path and the fix.
    """
    p = Path(out)
    for src in inputs:
        if src is not None and same_file(p, src):
            also = "" if os.path.realpath(p) == os.path.realpath(src) else f" ({src})"
            raise EspbError(
                f"{p}: the output is the input{also}; writing it would destroy the input. "
                "Fix: write the output to another path"
            )
    try:
        st = os.stat(p)  # follows symlinks: what the write would land on
    except FileNotFoundError:
        return p  # a new file (or a dangling symlink, which the rename replaces)
    except NotADirectoryError as exc:
        raise EspbError(
            f"{p}: a part of this path is a file, not a folder. Fix: choose an output path "
            "inside a folder"
        ) from exc
    except OSError as exc:
        raise EspbError(f"{p}: cannot check the output ({exc.strerror}). Fix: {_fix(exc)}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise EspbError(
            f"{p}: the output exists and is {_kind(st.st_mode)}, not a regular file; espb "
            "writes only regular files. Fix: give a file path (for a folder, a file name inside "
            "it)"
        )
    return p


@contextmanager
def atomic_write(path: PathLike, inputs: Iterable[PathLike | None] = ()) -> Iterator[Path]:
    """Write ``path`` atomically: yield a unique temporary path next to it, rename on success.

    The target is checked first with :func:`check_output` (against ``inputs``); missing
    folders are created. Whatever is raised inside the block (``KeyboardInterrupt`` too)
    removes the temporary file and propagates; an ``OSError`` becomes an
    :class:`~espb.errors.EspbError` naming the target and what to do.
    """
    target = check_output(path, inputs)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _reserve(target)
    except OSError as exc:
        raise EspbError(
            f"{target}: cannot create the output ({_what(exc)}). Fix: {_fix(exc)}"
        ) from exc
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        raise EspbError(f"{target}: writing failed ({_what(exc)}). Fix: {_fix(exc)}") from exc
    except BaseException:
        _discard(tmp)
        raise


def _reserve(target: Path) -> Path:
    """Create an empty, exclusively named temporary file in ``target``'s folder."""
    for _ in range(16):
        tmp = target.with_name(
            f".{target.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{target.suffix}"
        )
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def _discard(tmp: Path) -> None:
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass


def _what(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename and exc.strerror:
        what += f": {exc.filename}"
    return what


def _fix(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free space on that device (or quota), or write to another folder"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "write to a folder you may write to (check its permissions / read-only mount)"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a part of the output path is a file, not a folder: choose another path"
    return "check the output path and the device it is on"


__all__ = ["atomic_write", "check_output", "same_file"]


def acquire_or_wait(
    lock,
    path: Path,
    timeout: float,
    on_wait: Callable[[str], None] | None,
    busy: str,
    fix: str,
) -> None:
    """Take ``lock`` (a ``filelock`` lock on ``path``): at once if free, else say ``busy``
    through ``on_wait`` and wait up to ``timeout`` s; past that, an :class:`EspbError` naming
    the lock file and ``fix``. Every builder that shares a cache (cubes, forecast stores) waits
    through this one function."""
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(f"{busy}; waiting for it")
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise EspbError(f"waited {timeout:.0f}s for the lock {path} ({busy}); {fix}") from exc
