"""Let a native crash end the process that embeds chDB, instead of freezing it.

Loading chDB installs ClickHouse's handlers for the fatal signals in the whole process. In a Python
process they do not end it: an ``abort()`` anywhere (measured: ``os.abort()`` after one chDB query, 3 of 3
runs; an OpenVINO teardown error in a test worker) leaves the crashing thread asleep in the handler,
often holding the GIL, so the process stands still for ever: no exit for a supervisor or Kafka's group
to act on, no traceback. The default dispositions (with faulthandler's traceback first, when it is on)
make such a crash a crash.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading

FATAL_SIGNALS = (signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGSEGV)


def crash_on_fatal_signals() -> None:
    """Once chDB is loaded, put back the default handling of the fatal signals.

    Only the main thread can set signal handlers: a process that opens chDB in another thread calls this
    again from its main thread afterwards (the worker does, from its event loop).
    """
    if "chdb" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return
    tracebacks = faulthandler.is_enabled()
    if tracebacks:
        faulthandler.disable()  # it would hand a signal on to chDB's handler after printing the traceback
    for sig in FATAL_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    if tracebacks:
        faulthandler.enable(file=sys.__stderr__ or sys.stderr)
