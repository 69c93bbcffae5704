"""Progress where no terminal is: one plain, parseable line per step (issue 18)."""

from __future__ import annotations

import io
import re

from espb.cli.progress import MAX_LINES, console_reporter, plain_reporter, progress_line

LINE = re.compile(
    r"^progress task=(?P<task>\S+) done=(?P<done>\d+) total=(?P<total>\d+) "
    r"elapsed_s=(?P<el>\d+)( remaining_s=(?P<rem>\d+))?( \| (?P<text>.*))?$"
)


def test_the_line_format_parses():
    m = LINE.match(progress_line("meta-epochs", 12, 46, 65.2, "2008-03-01 acc 0.62"))
    assert m and m["task"] == "meta-epochs" and m["done"] == "12" and m["total"] == "46"
    assert (
        m["el"] == "65" and m["rem"] == str(round(65.2 / 12 * 34)) and m["text"].startswith("2008")
    )
    assert LINE.match(progress_line("cube", 0, 10, 0.0))["rem"] is None


def test_one_line_per_step_and_per_percent_for_long_work():
    lines: list[str] = []
    rep = plain_reporter(lines.append)
    for i in range(1, 47):
        rep.bar("meta-epochs", i, 46, f"step {i}")
    rep.bar("meta-epochs", 46, 46, "again")  # the same step twice: one line
    assert len(lines) == 46 and all(LINE.match(x) for x in lines)
    lines.clear()
    n = 10 * MAX_LINES
    for i in range(1, n + 1):
        rep.bar("cube", i, n, "")
    assert len(lines) == 100 and lines[-1].startswith(f"progress task=cube done={n}")


def test_a_file_gets_plain_lines_a_terminal_gets_bars():
    buf = io.StringIO()  # not a tty
    rep, prog = console_reporter(True, stream=buf)
    rep.say("hello")
    rep.bar("meta-epochs", 1, 2, "x")
    prog.stop()
    assert buf.getvalue().splitlines() == ["hello", buf.getvalue().splitlines()[1]]
    assert LINE.match(buf.getvalue().splitlines()[1])

    class Tty(io.StringIO):
        def isatty(self):
            return True

    t = Tty()
    rep, prog = console_reporter(True, stream=t)
    rep.bar("meta-epochs", 1, 2, "x")
    prog.stop()
    assert "progress task=" not in t.getvalue()
