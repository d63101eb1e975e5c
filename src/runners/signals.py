"""Signals for every long-running command: SIGTERM and SIGINT only ask to stop; a second one ends at once."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from runners.exitcodes import ExitCode


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT call ``stop`` (only that: the main loop then winds down in order); a second
    signal ends the process at once with :attr:`ExitCode.INTERRUPTED`. Outside the main thread (where Python
    cannot install handlers) signals are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = 0

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal received
        received += 1
        if received > 1:
            os.write(2, f"fedcore: second signal {signum}, exiting at once\n".encode())
            os._exit(ExitCode.INTERRUPTED)
        stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
