"""One error path for every command (docs/reliability.md, "Exit codes"): a problem the user can
fix - a bad setting, a bad input file, an output folder that cannot be written - is one line on
stderr naming the input, the problem and the fix, and exit code 2. Exit code 1 is left for
bugs (a traceback), 0 for success, 130 for Ctrl-C."""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from espb.errors import EspbError

#: OSError numbers that are the user's to fix, with the fix
_FIXES = {
    errno.EACCES: "choose a folder you can write to (out_dir=..., ESPB_OUT=..., -o ...)",
    errno.EPERM: "choose a folder you can write to (out_dir=..., ESPB_OUT=..., -o ...)",
    errno.EROFS: "the file system is read-only; choose a writable folder",
    errno.ENOSPC: "the disk is full; free space or choose another folder",
    errno.EDQUOT: "the disk quota is exhausted; free space or choose another folder",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.EISDIR: "the path is a folder; give a file name",
}


def describe_os_error(exc: OSError) -> str | None:
    """A one-line message for an OSError the user can fix, None for others."""
    fix = _FIXES.get(exc.errno or -1)
    if fix is None:
        return None
    where = exc.filename if exc.filename is not None else "a file"
    return f"{where}: {exc.strerror or exc}; {fix}"


@contextmanager
def user_errors(prog: str) -> Iterator[None]:
    """Turn an :class:`EspbError` or a user-fixable OSError into ``prog: error: ...`` and exit
    code 2."""
    try:
        yield
    except EspbError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        msg = describe_os_error(exc)
        if msg is None:
            raise
        print(f"{prog}: error: {msg}", file=sys.stderr)
        sys.exit(2)
