"""The flow: named steps over one design folder, each cached by what it was built from.

A step is a function ``run(design) -> dict`` registered with the config sections it reads
and the steps it follows. It writes its artifacts under ``design.path(<its name>)``; its
result goes last into ``<folder>/<step>/<step>.json`` with

* ``outputs``: the content hash of every file the step wrote (re-checked by "up to date"),
* ``inputs``: the content hashes of the upstream artifacts it read, by name,
* ``cache_key``: a hash over its config sections, its code version (package version + a hash
  of its code) and its upstream steps' keys and output hashes.

A step runs atomically: its old folder is moved aside, the step writes its folder afresh and
its JSON last; a failure puts the old folder back, and a run killed half-way is rolled back by
the next run (a step folder without a readable JSON is never a result). One writer per
folder: ``<folder>/.lock`` (``fcntl``) is held by every run. ``summary.json`` gathers every
step's result as ``{"design": ..., "steps": {...}}``; a run merges its steps into it.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from codesign.config import DesignConfig

STEP_ORDER = ["data", "train", "vectors", "hls", "rtl", "sim", "bitstream", "host", "bench", "experiments", "report"]

REPO = Path(__file__).resolve().parent.parent
# code every step's results depend on, besides its own package
SHARED_CODE = ("codesign/fixedpoint.py", "codesign/models", "codesign/stream.py", "codesign/boards.py",
               "codesign/compare.py", "codesign/metrics.py", "boards")
# further code of the built-in steps (a step registered elsewhere names its own with ``code=``)
BUILTIN_CODE = {"hls": ("kernels/hls",), "rtl": ("kernels/rtl",), "sim": ("kernels/rtl", "tb")}


# keys the flow adds to every step result (a step's own result may not use them)
FLOW_KEYS = frozenset({"seconds", "cache_key", "key_parts", "inputs", "outputs"})


class FlowError(RuntimeError):
    """A flow that cannot go on as asked; the message says what to run instead."""


class FolderBusy(FlowError):
    """Another live process holds the design folder's lock."""


@dataclass
class Step:
    name: str
    run: Callable[["Design"], dict]
    sections: tuple[str, ...]
    after: tuple[str, ...]
    # inside the main job, by default (steps a user asks for by name always run)
    in_flow: bool = True
    # code (paths relative to the repository) besides the step's own package
    code: tuple[str, ...] = ()
    # ``recheck(design, result) -> reason | None``: a cached result that is no longer good
    # although nothing it was built from changed (e.g. a simulator that was missing is there now)
    recheck: Callable[["Design", dict], str | None] | None = None


STEPS: dict[str, Step] = {}


def register_step(name: str, sections: tuple[str, ...], after: tuple[str, ...] = (),
                  in_flow: bool = True, code: tuple[str, ...] = (),
                  recheck: Callable[["Design", dict], str | None] | None = None) -> Callable:
    """Decorator registering ``run(design) -> dict`` as the flow step ``name``."""
    if name not in STEP_ORDER:
        raise ValueError(f"step {name!r} is not one of {STEP_ORDER}")

    def wrap(run: Callable[["Design"], dict]) -> Callable[["Design"], dict]:
        STEPS[name] = Step(name, run, tuple(sections), tuple(after), in_flow,
                           tuple(code) or BUILTIN_CODE.get(name, ()), recheck)
        return run
    return wrap


def load_steps() -> None:
    """Imports every ``codesign.<package>.step`` module; each registers its step."""
    import importlib
    import pkgutil

    import codesign
    for info in pkgutil.iter_modules(codesign.__path__):
        if info.ispkg and importlib.util.find_spec(f"codesign.{info.name}.step") is not None:
            importlib.import_module(f"codesign.{info.name}.step")


# ----------------------------------------------------------------------------- hashes

_HASHES: dict[tuple, str] = {}


# zip containers whose bytes hold the time they were written (numpy's .npz members, the save
# date in a .keras file's metadata.json): hashed by their members' names and CRCs, after every
# member's CRC is verified, so an identical re-run keeps its downstream steps current
ZIP_CONTENT = (".npz", ".keras")


def file_hash(path: Path) -> str:
    """Hash of a file's content (memoised on path, size, mtime and inode)."""
    st = path.stat()
    memo = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if memo not in _HASHES:
        digest = _zip_hash(path) if path.suffix in ZIP_CONTENT else None
        if digest is None:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            digest = h.hexdigest()[:32]
        _HASHES[memo] = digest
    return _HASHES[memo]


def _zip_hash(path: Path) -> str | None:
    """Members' names, sizes and CRCs of an intact zip; None when it is not one (or damaged)."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            if z.testzip() is not None:
                return None
            members = [(i.filename, i.CRC, i.file_size) for i in z.infolist() if i.filename != "metadata.json"]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None
    return "zip:" + hashlib.sha256(json.dumps(members).encode()).hexdigest()[:28]


def tree_hashes(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Content hash of every file under ``folder`` by relative path (``skip``: names left out)."""
    out = {}
    if not folder.is_dir():
        return out
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if rel in skip or not path.is_file():
                continue
            out[rel] = file_hash(path)
    return out


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


_CODE: dict[str, str] = {}


def code_version(step: str) -> str:
    """``<package version>+<hash>`` of the step's code: its package, the shared modules, its extras."""
    if step not in _CODE:
        import codesign
        s = STEPS[step]
        own = Path(sys.modules[s.run.__module__].__file__).resolve().parent
        h = hashlib.sha256()
        for entry in sorted({own, *(REPO / p for p in SHARED_CODE + s.code)}):
            files = [entry] if entry.is_file() else sorted(p for p in entry.rglob("*") if p.is_file()
                                                           and "__pycache__" not in p.parts)
            for f in files:
                rel = f.relative_to(REPO) if f.is_relative_to(REPO) else f
                h.update(f"{rel}\0{file_hash(f)}\0".encode())
        _CODE[step] = f"{codesign.__version__}+{h.hexdigest()[:12]}"
    return _CODE[step]


# ----------------------------------------------------------------------------- the folder

@dataclass
class Design:
    """A design folder (``build/<design>/``) and the config it is built from."""

    folder: Path
    cfg: DesignConfig
    # steps whose folder is renamed (e.g. ``{"hls": "hls-zcu104"}`` for another board)
    rename: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)

    def path(self, step: str) -> Path:
        return self.folder / self.rename.get(step, step)

    def json_path(self, step: str) -> Path:
        return self.path(step) / f"{step}.json"

    def stored(self, step: str) -> tuple[dict | None, str | None]:
        """(stored result, None), or (None, why there is none) without raising."""
        path = self.json_path(step)
        if not path.is_file():
            return None, f"{self._rel(path)} does not exist (the step has not run)"
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            return None, f"{self._rel(path)} is unreadable ({err})"
        if not isinstance(data, dict):
            return None, f"{self._rel(path)} holds a {type(data).__name__}, not a step result"
        return data, None

    def result(self, step: str) -> dict:
        """The stored result of ``step``; a clear error when it has not run or is unreadable."""
        data, why = self.stored(step)
        if data is None:
            raise FlowError(f"no result of step '{step}' in {self.folder}: {why}; "
                            f"run 'codesign flow --out {self.folder} --steps {step}'")
        return data

    def key(self, step: str) -> str:
        """Cache key: config sections, code version, upstream keys and upstream output hashes."""
        s = STEPS[step]
        upstream = {}
        for a in s.after:
            data, _ = self.stored(a)
            upstream[a] = None if data is None else [data.get("cache_key"), data.get("outputs")]
        return _digest(step, self.cfg.section_hash(*s.sections), code_version(step), upstream)

    def why_stale(self, step: str) -> str | None:
        """None when the stored result of ``step`` is current, else the reason it is not."""
        data, why = self.stored(step)
        if data is None:
            return why
        if not isinstance(data.get("outputs"), dict) or "cache_key" not in data:
            return f"{self._rel(self.json_path(step))} was written by an older codesign (no output hashes)"
        for a in STEPS[step].after:
            reason = self.why_stale(a)
            if reason:
                return f"upstream step '{a}' is not current: {reason}"
        if data["cache_key"] != self.key(step):
            parts = data["key_parts"] if isinstance(data.get("key_parts"), dict) else {}
            s = STEPS[step]
            if parts.get("config") != self.cfg.section_hash(*s.sections):
                return f"its config ({', '.join(s.sections) or 'none'}) changed"
            if parts.get("code") != code_version(step):
                return f"its code changed ({parts.get('code')} -> {code_version(step)})"
            return "its inputs from " + ", ".join(f"'{a}'" for a in s.after) + " changed"
        folder = self.path(step)
        for rel, digest in data["outputs"].items():
            path = folder / rel
            if not path.is_file():
                return f"{self._rel(path)} is missing"
            if file_hash(path) != digest:
                return f"{self._rel(path)} changed since the step wrote it"
        recheck = STEPS[step].recheck
        return recheck(self, data) if recheck else None

    def is_current(self, step: str) -> bool:
        return self.why_stale(step) is None

    def _rel(self, path: Path) -> str:
        """``path`` relative to the design folder (as the user sees it in the folder)."""
        try:
            return Path(path).relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)


# ----------------------------------------------------------------------------- files

def write_json(path: Path, data) -> None:
    """Writes JSON atomically (a crash never leaves half a file; a unique temporary name)."""
    write_text(path, json.dumps(data, indent=2, default=_plain))


def write_text(path: Path, text: str) -> None:
    """Writes a text file atomically through a uniquely named temporary file beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)      # mkstemp's 0600 would hide results from other users
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_UMASK = os.umask(0)
os.umask(_UMASK)


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_HELD: dict[Path, list] = {}


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Holds ``<folder>/.lock`` (re-entrant in this process); another live holder: ``FolderBusy``.

    The lock is an ``fcntl`` lock, so one left by a dead process is free again at once.
    """
    folder = Path(folder)
    real = folder.resolve()
    if real in _HELD:
        _HELD[real][1] += 1
        try:
            yield
        finally:
            _HELD[real][1] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(real / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").split()
        os.close(fd)
        pid, started = (holder + ["?", "?"])[:2]
        raise FolderBusy(f"{folder} is being written by pid {pid} (started {started}); "
                         "wait for it to finish or use another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {datetime.now().isoformat(timespec='seconds')}\n".encode(), 0)
    _HELD[real] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[real]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _backups(design: Design, name: str) -> list[Path]:
    target = design.path(name)
    return sorted(target.parent.glob(f".{target.name}.old-*"))


def recover(design: Design, name: str, log=print) -> None:
    """Finishes or rolls back a run of ``name`` that was killed half-way (call under the lock)."""
    target = design.path(name)
    data, _ = design.stored(name)
    for backup in _backups(design, name):
        if data is None and (backup / f"{name}.json").is_file():
            # killed while running: the new folder is incomplete, the old one is whole
            shutil.rmtree(target, ignore_errors=True)
            backup.rename(target)
            data, _ = design.stored(name)
            log(f"[{name}] an interrupted run was rolled back")
        else:   # killed after the commit (or the old folder held no result): drop the old one
            shutil.rmtree(backup, ignore_errors=True)
    if running_log(design, name).is_file():     # the log of a killed run
        running_log(design, name).replace(failed_log(design, name))
        log(f"[{name}] the log of the interrupted run: {failed_log(design, name)}")
    for tmp in target.parent.glob(".*.tmp"):    # summary / report half-written by a killed run
        tmp.unlink(missing_ok=True)


def stale_chain(design: Design, name: str) -> list[str]:
    """``name`` and every upstream step that is not current, in flow order."""
    need = {name}
    todo = [name]
    while todo:
        for a in STEPS[todo.pop()].after:
            if a not in need and not design.is_current(a):
                need.add(a)
                todo.append(a)
    return sorted(need, key=STEP_ORDER.index)


def check_upstream(design: Design, name: str) -> None:
    """Raises ``FlowError`` (with the command that mends it) unless every upstream step of
    ``name`` is current."""
    for upstream in STEPS[name].after:
        reason = design.why_stale(upstream)
        if reason:
            steps = ",".join(stale_chain(design, name))
            raise FlowError(f"step '{name}' needs step '{upstream}' to be current in {design.folder} "
                            f"({reason}); run them together: "
                            f"'codesign flow --out {design.folder} --steps {steps}'")


def run_step(design: Design, name: str, force: bool = False, log=print) -> dict:
    """Runs one step unless its cached result is current; returns the result."""
    if name not in STEPS:
        raise ValueError(f"unknown step '{name}'; available: {', '.join(s for s in STEP_ORDER if s in STEPS)}")
    with locked(design.folder):
        recover(design, name, log)
        why = design.why_stale(name)
        if not force and why is None:
            log(f"[{name}] up to date, cached in {design.path(name)}")
            return design.result(name)
        check_upstream(design, name)
        log(f"[{name}] running" + ("" if force else f": {why}"))
        inputs = {}
        for a in STEPS[name].after:
            inputs.update({f"{design.rename.get(a, a)}/{rel}": h
                           for rel, h in design.result(a)["outputs"].items()})
        key = design.key(name)
        target = design.path(name)
        backup = None
        if target.exists():
            backup = target.parent / f".{target.name}.old-{os.getpid()}-{time.time_ns()}"
            target.rename(backup)
        target.mkdir(parents=True)
        start = time.perf_counter()
        running = running_log(design, name)     # beside the folder: the step may replace its folder
        try:
            from codesign.console import step_log
            with step_log(running, name):
                result = STEPS[name].run(design)
            running.rename(target / f"{name}.log")
            if not isinstance(result, dict):
                raise TypeError(f"step '{name}' returned {type(result).__name__}, not a dict")
            clash = sorted(set(result) & FLOW_KEYS)
            if clash:
                raise TypeError(f"step '{name}' returned the key(s) {clash}, which the flow keeps for its own "
                                f"bookkeeping: rename them in the step's result")
            result = {**result, "seconds": round(time.perf_counter() - start, 2), "cache_key": key,
                      "key_parts": {"config": design.cfg.section_hash(*STEPS[name].sections),
                                    "code": code_version(name)},
                      "inputs": inputs, "outputs": tree_hashes(target, skip=(f"{name}.json", f"{name}.log"))}
            write_json(design.json_path(name), result)      # last: the step's commit
            failed_log(design, name).unlink(missing_ok=True)
        except BaseException:
            failed = _keep_failed_log(design, name, target)
            shutil.rmtree(target, ignore_errors=True)
            if backup is not None:
                backup.rename(target)
            if failed is not None:
                from codesign.console import report_failure
                report_failure(name, failed)
            raise
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    log(f"[{name}] done in {result['seconds']:.1f} s")
    return result


def running_log(design: Design, name: str) -> Path:
    """Where the log of a running step grows (moved to ``<step>/<step>.log`` when it succeeds)."""
    target = design.path(name)
    return target.parent / f".{target.name}.running.log"


def failed_log(design: Design, name: str) -> Path:
    """Where the log of a failed (or killed) run of ``name`` is kept."""
    target = design.path(name)
    return target.parent / f"{target.name}.failed.log"


def _keep_failed_log(design: Design, name: str, target: Path) -> Path | None:
    """Moves the log of a failed run out of the folder that is about to be rolled back."""
    for log in (running_log(design, name), target / f"{name}.log"):
        if log.is_file():
            log.replace(failed_log(design, name))
            return failed_log(design, name)
    return None


def read_summary(folder: Path) -> tuple[dict, str | None]:
    """(summary, None), or ({}, why the stored ``summary.json`` cannot be used)."""
    path = Path(folder) / "summary.json"
    if not path.is_file():
        return {}, f"{path} does not exist"
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return {}, f"{path} is unreadable ({err})"
    if not isinstance(data, dict) or not isinstance(data.get("steps"), dict):
        return {}, f"{path} is not a summary (no 'steps' mapping)"
    return data, None


def _brief(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("outputs", "inputs", "key_parts")}


def update_summary(design: Design, extra: dict[str, dict] | None = None, log=print) -> dict:
    """Merges every current step result (and ``extra`` entries) into ``summary.json``; writes
    ``report.html``. Entries of steps that are no longer current stay, marked ``"stale"``."""
    old, why = read_summary(design.folder)
    if why and (design.folder / "summary.json").is_file():
        log(f"warning: {why}; it is rebuilt from the step results")
    steps = dict(old.get("steps", {})) if old.get("design") == design.cfg.name else {}
    for name in STEP_ORDER:
        if name not in STEPS or design.rename.get(name):
            continue
        data, _ = design.stored(name)
        reason = design.why_stale(name)
        if reason is None:
            steps[name] = _brief(data)
        elif name in steps and isinstance(steps[name], dict):
            steps[name] = {**steps[name], "stale": reason}
    steps.update({k: _brief(v) for k, v in (extra or {}).items()})
    ordered = {n: steps[n] for n in sorted(steps, key=lambda n: (STEP_ORDER.index(n.split("-")[0])
                                                               if n.split("-")[0] in STEP_ORDER else 99, n))}
    summary = {"design": design.cfg.name, "config": design.cfg.model_dump(), "steps": ordered}
    from codesign.latency import design_latency
    summary["latency"] = design_latency(ordered)   # the one figure (Vivado's timing replaces the estimate)
    with locked(design.folder):
        write_json(design.folder / "summary.json", summary)
        from codesign.report.report import write_report
        write_report(design.folder, summary)
    return summary


def check_steps(steps: list[str] | None) -> list[str]:
    """The steps to run, in flow order (default: the main job); a clear error for bad names."""
    load_steps()
    available = [s for s in STEP_ORDER if s in STEPS]
    if steps is None:
        return [s for s in available if STEPS[s].in_flow]
    if not steps:
        raise ValueError(f"no step selected; choose from: {', '.join(available)}")
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {', '.join(unknown)}; available: {', '.join(available)}")
    return sorted(set(steps), key=STEP_ORDER.index)


def write_design(design: Design) -> None:
    """Writes ``<folder>/design.yaml`` (the folder's design), atomically."""
    write_text(design.folder / "design.yaml", _yaml(design.cfg))


def run_flow(design: Design, steps: list[str] | None = None, force: bool = False, log=print) -> dict:
    """Runs ``steps`` (default: every registered step of the main job) in flow order."""
    chosen = check_steps(steps)
    with locked(design.folder):
        write_design(design)
        for name in chosen:
            run_step(design, name, force=force, log=log)
            update_summary(design, log=log)
        return update_summary(design, log=log)


def _free_folder(folder: Path, name: str) -> Path:
    """A folder path beside ``folder`` that does not exist yet (for a hint)."""
    candidate = folder.parent / name
    n = 2
    while candidate.exists() or candidate == folder:
        candidate, n = folder.parent / f"{name}-{n}", n + 1
    return candidate


def design_tool_parser(prog: str, doc: str, needs: str):
    """The argument parser of a ``python -m`` tool over a design folder (``--out``, which must
    hold ``needs``, e.g. "a current data step"); the tool adds its own options."""
    import argparse
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help=f"design folder with {needs}")
    return parser


def existing_design(folder: Path, steps: str) -> Design:
    """The design of an existing design folder, for a tool that reads what ``steps`` made
    (``ConfigError`` naming the command to run when the folder holds no design)."""
    from codesign.config import ConfigError, load_config
    folder = Path(folder)
    if not (folder / "design.yaml").is_file():
        raise ConfigError(f"{folder}/design.yaml does not exist: run 'codesign flow --out {folder} "
                          f"--steps {steps}' first")
    return Design(folder, load_config(folder / "design.yaml"))


def open_design(folder: Path, config: str | Path | None = None, reconfigure: bool = False,
                command: str = "codesign flow") -> tuple[Design, list[str]]:
    """The design of ``folder`` and the steps to clear before it runs; writes nothing.

    An existing folder's ``design.yaml`` is its design; ``config`` creates a folder, and a
    different ``config`` for an existing folder is refused unless ``reconfigure`` (then the
    steps the change touches, and the steps after them, are cleared). ``command`` (what the user
    ran, without ``--config``/``--out``) starts the commands the error messages suggest.
    """
    from codesign.config import ConfigError, load_config
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FlowError(f"--out {folder} is a file, not a design folder: give a folder path")
    parent = next((p for p in folder.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise FlowError(f"--out {folder}: {parent} is a file, not a folder: give a folder path")
    new = load_config(config) if config else None
    stored = folder / "design.yaml"
    if not stored.is_file():
        if reconfigure:
            raise FlowError(f"--reconfigure: {folder} holds no design yet; leave out --reconfigure")
        if (folder / "summary.json").is_file():
            raise FlowError(f"{folder} holds results but no design.yaml (a 'codesign hls --model' folder?): "
                            f"give the design its own folder, e.g. --out {_free_folder(folder, (new or load_config()).name)}")
        return Design(folder, new or load_config()), []
    try:
        old = load_config(stored)
    except ConfigError as err:
        raise ConfigError(f"{err}\n  ({stored} is the design of {folder}: repair it, or build the design in "
                          f"a new folder with --out)") from None
    if new is None or new.model_dump() == old.model_dump():
        if reconfigure and new is None:
            raise FlowError("--reconfigure needs --config with the new design")
        return Design(folder, old), []
    load_steps()
    touched = {s for s in STEPS if old.section_hash(*STEPS[s].sections) != new.section_hash(*STEPS[s].sections)}
    for s in STEP_ORDER:
        if s in STEPS and touched & set(STEPS[s].after):
            touched.add(s)
    touched = sorted(touched, key=STEP_ORDER.index)
    if not reconfigure:
        differ = [k for k in DesignConfig.model_fields if getattr(old, k) != getattr(new, k)]
        raise FlowError(
            f"{folder} holds design '{old.name}' (its design.yaml); {config} is design '{new.name}' "
            f"(differs in: {', '.join(differ)}). Either build it in a new folder: "
            f"'{command} --config {config} --out {_free_folder(folder, new.name)}', or replace the design "
            f"of {folder}, clearing the steps the change touches ({', '.join(touched) or 'none'}): "
            f"'{command} --config {config} --out {folder} --reconfigure'")
    return Design(folder, new), touched


def prepare_folder(design: Design, clear: list[str] = ()) -> None:
    """Clears the ``clear`` steps and writes ``design.yaml`` (call under the folder's lock)."""
    for name in clear:
        shutil.rmtree(design.path(name), ignore_errors=True)
    write_design(design)


def _yaml(cfg: DesignConfig) -> str:
    import yaml
    return yaml.safe_dump(cfg.model_dump(), sort_keys=False)
