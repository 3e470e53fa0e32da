"""Stop signals obeyed within seconds, even inside one long computation.

Python runs a signal handler only when the main thread is back in the interpreter: a SIGTERM that arrives during one
long C++ call (a large model's backward pass on a CPU, one big encoding batch) used to wait for the call to end, which
could be minutes. The command line therefore also watches the signals from a thread: the interpreter's C-level handler
writes each signal's number to a socket (``signal.set_wakeup_fd``) at once, whatever the main thread is doing. After
the first SIGINT/SIGTERM the orderly path gets ``GRACE_S`` seconds (the trainer saves at the step boundary or abandons
the step; a task raises ``Interrupted``); if the process is still running then, the watch ends it with the usual exit
code (128 + signal) and one line. A second signal ends it at once. A checkpoint write in progress (``saving``) is
waited for, so what can be saved is saved whole.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

GRACE_S = 5.0  # the orderly path's time after a first signal: a step-boundary save of a small model takes well under
SECOND_SIGNAL_S = 1.0  # after a second signal: just long enough for the orderly message if the interpreter is free
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_saving = 0
_saving_lock = threading.Lock()


@contextlib.contextmanager
def saving() -> Iterator[None]:
    """Mark a checkpoint write: the watch lets it finish before ending the process."""
    global _saving
    with _saving_lock:
        _saving += 1
    try:
        yield
    finally:
        with _saving_lock:
            _saving -= 1


def _is_saving() -> bool:
    with _saving_lock:
        return _saving > 0


class Watch:
    """The signal watch of one command (``with Watch(): ...``); a no-op outside the main thread."""

    def __init__(self, grace_s: float = GRACE_S):
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._closed = False
        self._old_fd: int | None = None
        self._sockets: tuple[socket.socket, socket.socket] | None = None

    def __enter__(self) -> Watch:
        if threading.current_thread() is not threading.main_thread():
            return self
        reader, writer = socket.socketpair()
        writer.setblocking(False)  # the C-level handler must never block
        try:
            self._old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except ValueError:  # not the main interpreter
            reader.close(), writer.close()
            return self
        self._sockets = (reader, writer)
        threading.Thread(target=self._watch, name="dmzbench-signal-watch", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sockets is None:
            return
        with self._lock:  # from here on the watch never ends the process
            self._closed = True
        signal.set_wakeup_fd(self._old_fd if self._old_fd is not None else -1)
        self._sockets[1].close()  # wakes the watch thread, which closes its end

    def _watch(self) -> None:
        reader = self._sockets[0]
        first: int | None = None
        deadline = None
        again = False
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            reader.settimeout(timeout)
            try:
                data = reader.recv(64)
            except TimeoutError:
                if _is_saving():  # a checkpoint is being written: let it finish whole
                    deadline = time.monotonic() + 0.1
                    continue
                why = ("asked twice, stopped at once" if again else
                       f"still busy {self.grace_s:g} s later (inside one long computation), so stopped without waiting")
                self._end(first, f"interrupted by {signal.Signals(first).name}: {why}; checkpoints and records written "
                                 "so far are kept, the same command resumes")
                return
            except OSError:
                data = b""
            if not data:  # the command ended: its own exit stands
                reader.close()
                return
            for signum in (s for s in data if s in STOP_SIGNALS):
                if first is None:
                    first, deadline = signum, time.monotonic() + self.grace_s
                else:
                    first, deadline, again = signum, min(deadline, time.monotonic() + SECOND_SIGNAL_S), True

    def _end(self, signum: int, message: str) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                os.write(2, (message + "\n").encode())
            finally:
                os._exit(128 + signum)
