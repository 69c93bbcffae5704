"""Failpoints for the fault-injection tests (docs/reliability.md): named places in a run where a
test can kill the process, to prove that every stage survives a kill.

``ESPB_FAILPOINT=name`` (or ``name:value``, e.g. ``after_checkpoint:1``) makes
:func:`failpoint` send SIGKILL to its own process when it reaches that place
(``ESPB_FAILPOINT_SIGNAL=SIGTERM`` sends that signal instead: a scheduler's stop). Unset
(always, outside the tests), a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "ESPB_FAILPOINT"
SIGNAL_ENV = "ESPB_FAILPOINT_SIGNAL"


def failpoint(name: str, value: object | None = None) -> None:
    """Kill this process (SIGKILL: no cleanup, no atexit) if ``$ESPB_FAILPOINT`` names this
    place (``name``, or ``name:value``)."""
    want = os.environ.get(ENV)
    if not want:
        return
    if want == name or (value is not None and want == f"{name}:{value}"):
        sig = getattr(signal, os.environ.get(SIGNAL_ENV) or "SIGKILL")
        os.kill(os.getpid(), sig)
