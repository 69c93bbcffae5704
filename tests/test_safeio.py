"""espb.safeio: outputs never overwrite inputs or non-regular files; writes are atomic."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from espb.errors import EspbError
from espb.safeio import atomic_write, check_output, same_file


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_output_that_is_the_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("data")
    (tmp_path / "sub").mkdir()
    for out in (src, tmp_path / "sub" / ".." / "in.csv", Path(os.path.relpath(src))):
        with pytest.raises(EspbError, match="the output is the input") as ei:
            check_output(out, [src])
        assert "in.csv" in str(ei.value) and "Fix:" in str(ei.value)
    link = tmp_path / "link.csv"
    link.symlink_to(src)
    with pytest.raises(EspbError, match="the output is the input"):
        check_output(link, [src])
    hard = tmp_path / "hard.csv"
    os.link(src, hard)
    assert same_file(hard, src)
    with pytest.raises(EspbError, match="the output is the input"):
        check_output(hard, [src])
    assert src.read_text() == "data"
    assert check_output(tmp_path / "new.parquet", [src, None]) == tmp_path / "new.parquet"


@pytest.mark.parametrize("kind", ["directory", "devnull", "fifo"])
def test_non_regular_targets_are_refused(tmp_path: Path, kind: str) -> None:
    if kind == "directory":
        target = tmp_path / "folder"
        target.mkdir()
        want = "a directory"
    elif kind == "devnull":
        target, want = Path(os.devnull), "character device"
    else:
        target = tmp_path / "pipe"
        os.mkfifo(target)
        want = "FIFO"
    with pytest.raises(EspbError, match=want) as ei:
        check_output(target)
    assert str(target) in str(ei.value)
    with pytest.raises(EspbError, match=want), atomic_write(target) as tmp:
        tmp.write_text("x")  # never reached
    if kind != "devnull":
        assert _leftovers(tmp_path, {target.name}) == []


def test_atomic_write_renames_on_success_with_unique_names(tmp_path: Path) -> None:
    target = tmp_path / "out" / "events.parquet"
    with atomic_write(target) as a, atomic_write(tmp_path / "out" / "events.parquet") as b:
        assert a != b and a.parent == b.parent == target.parent  # same folder, unique names
        assert re.fullmatch(rf"\.events\.tmp-{os.getpid()}-[0-9a-f]{{8}}\.parquet", a.name)
        a.write_text("first")
        b.write_text("second")
    assert target.read_text() == "first"  # the writer that finishes last wins, whole
    assert _leftovers(target.parent, {"events.parquet"}) == []


@pytest.mark.parametrize("exc", [ValueError("boom"), KeyboardInterrupt()])
def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path, exc: BaseException) -> None:
    target = tmp_path / "events.parquet"
    target.write_text("old")
    with pytest.raises(type(exc)), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise exc
    assert target.read_text() == "old"
    assert _leftovers(tmp_path, {"events.parquet"}) == []


def test_write_errors_become_one_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "events.parquet"
    with pytest.raises(EspbError, match="No space left on device") as ei, atomic_write(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(target) in str(ei.value) and "free space" in str(ei.value)
    assert _leftovers(tmp_path, set()) == []
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(EspbError, match="file.txt") as ei, atomic_write(blocker / "out.parquet"):
        pass
    assert "Fix:" in str(ei.value)


def test_acquire_or_wait_says_it_waits_then_names_the_lock_and_the_fix(tmp_path):
    import threading

    from filelock import FileLock

    from espb.errors import EspbError
    from espb.safeio import acquire_or_wait

    path = tmp_path / "k.lock"
    held, release = threading.Event(), threading.Event()

    def holder():
        with FileLock(str(path)):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    said = []
    try:
        with pytest.raises(EspbError, match=r"waited 0s for the lock .*k\.lock \(busy\); fix it"):
            acquire_or_wait(FileLock(str(path)), path, 0.2, said.append, "busy", "fix it")
        assert said == ["busy; waiting for it"]
    finally:
        release.set()
        t.join()
    lock = FileLock(str(path))
    acquire_or_wait(lock, path, 1, said.append, "busy", "fix it")  # free now: no message
    assert lock.is_locked and said == ["busy; waiting for it"]
    lock.release()
