"""What a step shows on the console, and where everything else goes: the step's log file.

While a step runs inside :func:`step_log`, the process' file descriptors 1 and 2 point at
``<design>/<step>/<step>.log``: Python ``warnings`` and ``logging`` (TensorFlow, absl, Keras,
QKeras), ``print`` of third-party code (hls4ml), the output of C++ libraries and of child
processes all land there, never lost. The step's own lines (:func:`say`) and progress bars
(:func:`progress`) go to the console (a duplicate of the original descriptors) and into the
log. A bar is a tqdm bar that disappears when done on a terminal; without one (CI, ``| tee``)
it prints a plain ``x/y`` line after :data:`PLAIN_INTERVAL` seconds, then after twice as long
each time, so a log of the console stays a few lines long.

A child process reaches the same console through ``CODESIGN_CONSOLE_FD`` (see
:func:`child_console`), e.g. the benchmark run in its own process.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, TypeVar

# TensorFlow's C++ INFO lines (oneDNN, CPU instructions) are noise; its warnings still reach the log
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

CONSOLE_FD_ENV = "CODESIGN_CONSOLE_FD"
# seconds before the first plain progress line when the console is not a terminal; the wait
# doubles after each line, so an hour-long bar prints five lines
PLAIN_INTERVAL = 60.0
# lines of a failed step's log shown on the console
TAIL_LINES = 20

T = TypeVar("T")


@dataclass
class _Active:
    name: str
    log: IO[bytes]
    path: Path
    saved: tuple[int, int]


_STACK: list[_Active] = []
_CONSOLE: dict[str, IO[str]] = {}


def _streams() -> tuple[IO[str], IO[str]]:
    """(out, err) of the console: the original descriptors while a step log is active."""
    if "out" in _CONSOLE:
        return _CONSOLE["out"], _CONSOLE["err"]
    fd = os.environ.get(CONSOLE_FD_ENV)
    if fd and fd.isdigit():
        try:
            stream = os.fdopen(int(fd), "w", buffering=1, closefd=False)
            return stream, stream
        except OSError:
            pass
    return sys.stdout, sys.stderr


def is_tty() -> bool:
    """Whether the console's error stream is a terminal (bars redraw there)."""
    err = _streams()[1]
    try:
        return os.isatty(err.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def _to_log(text: str) -> None:
    if _STACK:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
            _STACK[-1].log.write(text.encode(errors="replace"))


def say(message: str) -> None:
    """A step's own line: on the console (indented under the step's header) and in its log."""
    out = _streams()[0]
    indent = "  " if _STACK else ""
    out.write("".join(f"{indent}{line}\n" for line in message.splitlines() or [""]))
    out.flush()
    _to_log(f"[codesign] {message}\n")


def log_only(message: str) -> None:
    """A step's line for its log only (detail a person reads when digging, not on the console)."""
    _to_log(f"[codesign] {message}\n")


_SHOWN: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning class marked ``console = True`` (e.g. ``fixedpoint.PrecisionWarning``) reaches the
    console once per message; every warning also goes to the step's log."""
    if getattr(category, "console", False) and str(message) not in _SHOWN:
        _SHOWN.add(str(message))
        say(f"warning: {message}")
    else:
        _to_log(warnings.formatwarning(message, category, filename, lineno, line))


class _Plain:
    """A progress report for a console that is not a terminal: a line now and then."""

    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self.start = self.last = time.monotonic()
        self.interval = PLAIN_INTERVAL
        self.postfix = ""

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last, self.interval = now, 2 * self.interval
            _streams()[1].write(f"  {self._line()}\n")

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def _line(self) -> str:
        if self.unit == "s" and not self.total:     # a wait: its time only
            return f"{self.desc}: {time.monotonic() - self.start:.0f} s"
        of = f"/{self.total}" if self.total else ""
        tail = f", {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {self.n}{of} {self.unit} in {time.monotonic() - self.start:.0f} s{tail}"

    def close(self) -> None:
        _to_log(f"[progress] {self._line()}\n")


class Progress:
    """A progress bar on the console (see the module doc); ``update``, ``note``, ``close``."""

    def __init__(self, total: int | None, desc: str, unit: str = "it") -> None:
        self._plain = _Plain(total, desc, unit)
        self._bar = None
        if is_tty():
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=f"  {desc}", unit=unit, leave=False, file=_streams()[1],
                             mininterval=0.5)

    def update(self, n: int = 1) -> None:
        """Advances the bar by ``n``."""
        if self._bar is not None:
            self._plain.n += n          # kept for the log's final line
            self._bar.update(n)
        else:
            self._plain.update(n)

    def note(self, text: str) -> None:
        """Text shown after the bar (e.g. the loss of the last epoch)."""
        self._plain.set_postfix_str(text)
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        """Removes the bar (a terminal) and writes its final state into the step's log."""
        if self._bar is not None:
            self._bar.close()
        self._plain.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterates ``items`` behind a progress bar named ``desc``."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)   # type: ignore[arg-type]
    with Progress(total, desc, unit) as bar:
        for item in items:
            yield item
            bar.update()


@contextlib.contextmanager
def step_log(path: Path, name: str) -> Iterator[Path]:
    """Sends everything the process writes to descriptors 1 and 2 into ``path`` (appended) while
    the step ``name`` runs; :func:`say` and :func:`progress` keep reaching the console."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    log = open(path, "ab", buffering=0)
    log.write(f"==== {name}: {time.strftime('%Y-%m-%d %H:%M:%S')} (pid {os.getpid()})\n".encode())
    saved = (os.dup(1), os.dup(2))
    outermost = not _STACK
    if outermost:
        _CONSOLE["out"] = _console_stream(sys.stdout, saved[0])
        _CONSOLE["err"] = _console_stream(sys.stderr, saved[1])
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    _STACK.append(_Active(name, log, path, saved))
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield path
    except BaseException:
        import traceback
        _to_log(f"==== {name} failed:\n{traceback.format_exc()}")
        raise
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        warnings.showwarning = shown
        _STACK.pop()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        log.close()
        if outermost:
            for key in ("out", "err"):
                stream = _CONSOLE.pop(key)
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
                if getattr(stream, "_codesign_owned", False):
                    stream.close()


def _console_stream(current: IO[str], saved_fd: int) -> IO[str]:
    """The console while descriptors 1/2 point at a log: ``current`` itself when it does not
    write to a descriptor (a notebook, pytest's capsys), else a stream on the saved descriptor."""
    try:
        fileno = current.fileno()
    except (AttributeError, OSError, ValueError):
        return current
    if fileno not in (1, 2):
        return current
    stream = os.fdopen(os.dup(saved_fd), "w", buffering=1)
    stream._codesign_owned = True  # type: ignore[attr-defined]
    return stream


def child_console() -> tuple[dict[str, str], tuple[int, ...]]:
    """(environment, pass_fds) that let a child process write :func:`say` lines and bars to this
    console while its own output goes wherever it is sent (e.g. the step's log)."""
    out = _streams()[1]
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return {}, ()
    return {CONSOLE_FD_ENV: str(fd)}, (fd,)


def log_tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last ``lines`` relevant lines of a log: no blank lines and no progress redraws."""
    try:
        text = Path(path).read_bytes().decode(errors="replace")
    except OSError:
        return []
    keep = [ln.rstrip().rsplit("\r", 1)[-1] for ln in text.split("\n")]
    return [ln for ln in keep if ln.strip()][-lines:]


def report_failure(name: str, path: Path) -> None:
    """Prints the tail of a failed step's log and its path on the console."""
    err = _streams()[1]
    tail = log_tail(path)
    err.write(f"[{name}] failed; the last {len(tail)} lines of its log:\n")
    for line in tail:
        err.write(f"  | {line}\n")
    err.write(f"[{name}] full log: {path}\n")
    err.flush()


@contextlib.contextmanager
def waiting(desc: str) -> Iterator[None]:
    """A bar of elapsed time while one long call runs (a yosys run, a simulator, a solver)."""
    import threading
    bar = Progress(None, desc, unit="s")
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            bar.update(1)

    thread = threading.Thread(target=tick, name=f"progress: {desc}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        bar.close()
