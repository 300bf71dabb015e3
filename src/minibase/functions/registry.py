"""Loading the functions folder: every `*.py` file (not starting with `_`) is run once and the
declared functions, hooks, schedules and job handlers are collected into one registry.

A file that fails to import, or two declarations that clash, stop the load with a message that
names the file — the server does not start half-configured.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from minibase.config import Settings
from minibase.functions.cron import Cron, CronError
from minibase.functions.specs import ACTIONS, NAME, Declaration, declarations
from minibase.store.schema import DefinitionError, Schema, ValidationError

Handler = Callable[..., Any]
DEFAULT_MAX_ATTEMPTS = 10
# Handlers that run as jobs (job handlers, after hooks, schedules) stop at this at the latest.
MAX_JOB_TIMEOUT = 3600.0


class FunctionsError(Exception):
    """The functions folder cannot be loaded; the message says which file and why."""


@dataclass(frozen=True)
class CloudFunction:
    name: str
    handler: Handler
    auth: str
    timeout: float
    schema: Schema | None


@dataclass(frozen=True)
class Hook:
    name: str  # "<file>.<function>", stable across restarts: after-hook jobs refer to it
    phase: str
    collection: str
    action: str
    handler: Handler
    timeout: float


@dataclass(frozen=True)
class Scheduled:
    name: str
    cron: Cron
    tz: ZoneInfo
    handler: Handler
    timeout: float
    arguments: tuple[Any, ...] = ()  # after ctx: a configured schedule's function input


@dataclass(frozen=True)
class JobHandler:
    name: str
    handler: Handler
    timeout: float
    max_attempts: int


@dataclass(frozen=True)
class PushHandler:
    name: str  # "<file>.<function>": queued push jobs refer to it
    msg_type: str | None  # None: every message
    event: str | None  # None: any event (or none)
    reply: bool
    handler: Handler
    timeout: float
    max_attempts: int

    def matches(self, msg_type: str, event: str | None) -> bool:
        return self.msg_type in (None, msg_type) and self.event in (None, event)


@dataclass
class FunctionRegistry:
    functions: dict[str, CloudFunction] = field(default_factory=dict)
    hooks: dict[tuple[str, str, str], list[Hook]] = field(default_factory=dict)
    hooks_by_name: dict[str, Hook] = field(default_factory=dict)
    schedules: dict[str, Scheduled] = field(default_factory=dict)
    jobs: dict[str, JobHandler] = field(default_factory=dict)
    price: JobHandler | None = None  # @price (max_attempts unused)
    paid: JobHandler | None = None  # @paid: runs as the pay.fulfil job
    push: dict[str, PushHandler] = field(default_factory=dict)  # @push, by name, as declared

    def hooks_for(self, phase: str, collection: str, action: str) -> list[Hook]:
        return self.hooks.get((phase, collection.lower(), action), [])

    def push_for(self, msg_type: str, event: str | None) -> list[PushHandler]:
        """The @push handlers of a message, in the order they were declared."""
        return [found for found in self.push.values() if found.matches(msg_type, event)]

    def max_attempts(self, job_name: str) -> int:
        """What `@job(name, max_attempts=...)` declared, for jobs enqueued without one."""
        found = self.paid if job_name == "pay.fulfil" else self.jobs.get(job_name)
        return DEFAULT_MAX_ATTEMPTS if found is None else found.max_attempts


def source_fingerprint(directory: Path) -> tuple[tuple[str, float], ...]:
    """What changes when a file is added, removed or edited (for --dev reloading)."""
    if not directory.is_dir():
        return ()
    return tuple(sorted((str(p), p.stat().st_mtime) for p in directory.glob("*.py")))


def load_functions(directory: Path, configured_schedules: object = None) -> FunctionRegistry:
    """The folder's declarations, then the config file's schedules (which name its functions)."""
    registry = _load_folder(directory)
    if configured_schedules is not None:
        add_configured_schedules(registry, configured_schedules)
    return registry


def load_configured(settings: Settings) -> FunctionRegistry:
    """What the settings name: the functions folder and the config file's schedules."""
    return load_functions(settings.functions_dir, settings.extra.get("schedules"))


def _load_folder(directory: Path) -> FunctionRegistry:
    registry = FunctionRegistry()
    if not directory.is_dir():
        return registry
    folder = str(directory.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so function files can import the folder's _helpers
    _forget_modules_from(directory.resolve())
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = _load_module(path)
        for attribute, value in vars(module).items():
            for declaration in declarations(value):
                if getattr(value, "__module__", None) != module.__name__:
                    continue  # imported from elsewhere: declared where it is defined
                _add(registry, path, attribute, value, declaration)
    return registry


def _forget_modules_from(folder: Path) -> None:
    """Helpers imported from the folder by an earlier load are imported afresh (--dev edits),
    and so are modules named like the folder's files (the folder comes first on sys.path)."""
    names = {path.stem for path in folder.glob("*.py")} | {
        path.name for path in folder.iterdir() if (path / "__init__.py").is_file()
    }
    names -= sys.stdlib_module_names | {"minibase"}  # never unload what everything shares
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        mine = file is not None and Path(file).resolve().is_relative_to(folder)
        if mine or name.partition(".")[0] in names:
            del sys.modules[name]


def _load_module(path: Path) -> ModuleType:
    name = f"minibase_functions.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FunctionsError(f"{path}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise FunctionsError(f"{path}: {type(exc).__name__}: {exc}") from exc
    return module


def _add(
    registry: FunctionRegistry,
    path: Path,
    attribute: str,
    handler: Handler,
    declaration: Declaration,
) -> None:
    where = f"{path.name}: {attribute}"
    options = declaration.options
    if not callable(handler):
        raise FunctionsError(f"{where} is not a function")
    timeout = float(options.get("timeout", 10))
    if timeout <= 0:
        raise FunctionsError(f"{where}: timeout must be positive")
    if declaration.kind != "function" and timeout > MAX_JOB_TIMEOUT:
        raise FunctionsError(f"{where}: timeout is at most {MAX_JOB_TIMEOUT:g} s")
    if declaration.kind == "function":
        _add_function(registry, where, attribute, handler, options, timeout)
    elif declaration.kind in ("before", "after"):
        _add_hooks(registry, path, where, attribute, handler, declaration.kind, options, timeout)
    elif declaration.kind == "schedule":
        _add_schedule(registry, where, attribute, handler, options, timeout)
    elif declaration.kind in ("price", "paid"):
        _add_payment_hook(registry, where, handler, declaration.kind, options, timeout)
    elif declaration.kind == "push":
        _add_push(registry, path, where, attribute, handler, options, timeout)
    else:
        name = _name(where, options.get("name") or attribute)
        if name in registry.jobs:
            raise FunctionsError(f"{where}: a job handler named {name!r} exists already")
        attempts = options.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            raise FunctionsError(f"{where}: max_attempts must be a whole number from 1 to 100")
        _check_arity(where, handler, 2)
        registry.jobs[name] = JobHandler(name, handler, timeout, attempts)


def _name(where: str, name: str) -> str:
    if not NAME.fullmatch(name):
        raise FunctionsError(f"{where}: name {name!r} must match {NAME.pattern}")
    for reserved in ("minibase.", "pay."):
        if name.startswith(reserved):
            raise FunctionsError(f"{where}: name {name!r}: {reserved!r} is for minibase's own jobs")
    return name


def _add_payment_hook(
    registry: FunctionRegistry,
    where: str,
    handler: Handler,
    kind: str,
    options: Mapping[str, Any],
    timeout: float,
) -> None:
    if getattr(registry, kind) is not None:
        raise FunctionsError(f"{where}: there is one @{kind} hook, and one is declared already")
    attempts = options.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise FunctionsError(f"{where}: max_attempts must be a whole number from 1 to 100")
    _check_arity(where, handler, 3 if kind == "price" else 2)
    setattr(registry, kind, JobHandler(where.replace(": ", "."), handler, timeout, attempts))


def _add_push(
    registry: FunctionRegistry,
    path: Path,
    where: str,
    attribute: str,
    handler: Handler,
    options: Mapping[str, Any],
    timeout: float,
) -> None:
    msg_type, event, reply = options.get("msg_type"), options.get("event"), options.get("reply")
    for value in (msg_type, event):
        if value is not None and (not isinstance(value, str) or not value):
            raise FunctionsError(f"{where}: a MsgType or Event is a non-empty string")
    if reply and timeout >= 5:
        raise FunctionsError(f"{where}: a replying handler's timeout is under WeChat's 5 s")
    attempts = options.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise FunctionsError(f"{where}: max_attempts must be a whole number from 1 to 100")
    _check_arity(where, handler, 2)
    found = PushHandler(
        f"{path.stem}.{attribute}", msg_type, event, bool(reply), handler, timeout, attempts
    )
    if reply:
        for other in registry.push.values():
            if other.reply and (other.msg_type, other.event) == (msg_type, event):
                raise FunctionsError(
                    f"{where}: {other.name} replies to these messages already (one reply each)"
                )
    registry.push[found.name] = found


def _add_function(
    registry: FunctionRegistry,
    where: str,
    attribute: str,
    handler: Handler,
    options: Mapping[str, Any],
    timeout: float,
) -> None:
    name = _name(where, options.get("name") or attribute)
    if name in registry.functions:
        raise FunctionsError(f"{where}: a function named {name!r} exists already")
    if options.get("auth") not in ("user", "admin", "public"):
        raise FunctionsError(f"{where}: auth must be 'user', 'admin' or 'public'")
    schema = None
    if options.get("schema") is not None:
        try:
            schema = Schema.parse(options["schema"], additional=bool(options.get("additional")))
        except DefinitionError as exc:
            raise FunctionsError(f"{where}: schema: {exc.problems}") from None
    _check_arity(where, handler, 2)
    registry.functions[name] = CloudFunction(name, handler, options["auth"], timeout, schema)


def _add_hooks(
    registry: FunctionRegistry,
    path: Path,
    where: str,
    attribute: str,
    handler: Handler,
    phase: str,
    options: Mapping[str, Any],
    timeout: float,
) -> None:
    collection = str(options.get("collection", ""))
    actions = tuple(options.get("actions", ()))
    bad = [action for action in actions if action not in ACTIONS]
    if not collection or bad:
        raise FunctionsError(f"{where}: hooks take a collection and actions from {ACTIONS}")
    _check_arity(where, handler, 2)
    name = f"{path.stem}.{attribute}"
    for action in actions:
        hook = Hook(name, phase, collection, action, handler, timeout)
        registry.hooks.setdefault((phase, collection.lower(), action), []).append(hook)
        registry.hooks_by_name[name] = hook


def _add_schedule(
    registry: FunctionRegistry,
    where: str,
    attribute: str,
    handler: Handler,
    options: Mapping[str, Any],
    timeout: float,
) -> None:
    name = _name(where, options.get("name") or attribute)
    cron, tz = _when(registry, where, name, options)
    _check_arity(where, handler, 1)
    registry.schedules[name] = Scheduled(name, cron, tz, handler, timeout)


def _when(
    registry: FunctionRegistry, where: str, name: str, options: Mapping[str, Any]
) -> tuple[Cron, ZoneInfo]:
    if name in registry.schedules:
        raise FunctionsError(f"{where}: a schedule named {name!r} exists already")
    try:
        return Cron.parse(str(options.get("cron", ""))), ZoneInfo(str(options.get("tz", "UTC")))
    except CronError as exc:
        raise FunctionsError(f"{where}: {exc}") from None
    except (ZoneInfoNotFoundError, ValueError):
        raise FunctionsError(f"{where}: unknown time zone {options.get('tz')!r}") from None


def add_configured_schedules(registry: FunctionRegistry, entries: object) -> None:
    """`[[schedules]]` of the config file: a cloud function called on a cron schedule, as the
    system, with a fixed input (validated against the function's schema once, here).

        [[schedules]]
        name = "nightly_report"      # optional: the function's name
        cron = "0 3 * * *"
        tz = "Asia/Shanghai"         # optional: UTC
        function = "send_report"
        input = { period = "day" }   # optional: {}
    """
    if not isinstance(entries, list):
        raise FunctionsError("config: schedules must be a list of tables ([[schedules]])")
    allowed = {"name", "cron", "tz", "function", "input", "timeout"}
    for position, entry in enumerate(entries):
        where = f"config: schedules[{position}]"
        if not isinstance(entry, Mapping):
            raise FunctionsError(f"{where} must be a table")
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise FunctionsError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
        target = registry.functions.get(str(entry.get("function", "")))
        if target is None:
            raise FunctionsError(f"{where}: no cloud function named {entry.get('function')!r}")
        name = _name(where, str(entry.get("name") or target.name))
        cron, tz = _when(registry, where, name, entry)
        timeout = float(entry.get("timeout", target.timeout))
        if not 0 < timeout <= MAX_JOB_TIMEOUT:
            raise FunctionsError(f"{where}: timeout must be 0-{MAX_JOB_TIMEOUT:g} s")
        given = entry.get("input", {})
        try:
            payload = (
                given
                if target.schema is None
                else target.schema.validate(given, apply_defaults=True)
            )
        except (ValidationError, AttributeError, TypeError):
            raise FunctionsError(f"{where}: input does not match {target.name}'s schema") from None
        registry.schedules[name] = Scheduled(name, cron, tz, target.handler, timeout, (payload,))


def _check_arity(where: str, handler: Handler, count: int) -> None:
    try:
        inspect.signature(handler).bind(*range(count))
    except TypeError:
        expected = "(ctx)" if count == 1 else "(ctx, input)"
        raise FunctionsError(f"{where}: must accept {expected}") from None
    except ValueError:  # builtins without signatures: let them be
        return
