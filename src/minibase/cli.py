"""The `minibase` command: serve, worker, migrate, admin create, collections export|apply,
files gc, backup and restore."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

from minibase import __version__
from minibase.backups.archive import BackupError
from minibase.config import ConfigError, Settings, env_name, load_settings
from minibase.errors import ApiError
from minibase.functions.registry import FunctionsError
from minibase.log import configure_logging
from minibase.serving import AUTO_WORKERS_MAX, run_http_server, worker_count
from minibase.store.database import DatabaseUnavailable
from minibase.store.migrations import MigrationsPending, migrate
from minibase.vault import VaultError, load_master_key

log = logging.getLogger("minibase")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (default ./minibase_data)")
    parser.add_argument("--database-url", help="postgresql://... (default: SQLite in data dir)")
    parser.add_argument("--config", help="minibase.toml to read (default ./minibase.toml)")


def _create_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--create",
        action="store_true",
        help="start a new database (and master key) if there is none; without it a missing one"
        " is an error",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minibase", description="Backend for mini programs.")
    parser.add_argument("--version", action="version", version=f"minibase {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    _common(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="development mode: migrate at start, reload ./functions when a file changes, and"
        " run the platforms' sandbox (fake WeChat, Alipay, Douyin, Baidu, QQ) in this server at"
        " http://HOST:PORT/_sandbox, its control API at /_sandbox/control (unless"
        " MINIBASE_SANDBOX_URL points at one elsewhere)",
    )
    serve.add_argument(
        "--workers",
        help="worker processes, or auto: one per core this server may use, at most"
        f" {AUTO_WORKERS_MAX}, one with --dev (default auto)",
    )

    sandbox = commands.add_parser(
        "sandbox", help="serve the platforms' sandbox (fake WeChat, Alipay, Douyin, Baidu, QQ)"
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=9000, help="port (default 9000)")

    worker = commands.add_parser(
        "worker", help="run job workers and the scheduler without the HTTP server"
    )
    _common(worker)
    worker.add_argument("--concurrency", type=int, help="jobs run at once (default 4)")

    migrate_cmd = commands.add_parser("migrate", help="apply pending system-table migrations")
    _common(migrate_cmd)

    admin = commands.add_parser("admin", help="manage admins")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_commands.add_parser(
        "create", help="create an admin (password from MINIBASE_ADMIN_PASSWORD or a prompt)"
    )
    create.add_argument("email")
    _create_flag(create)
    _common(create)

    collections = commands.add_parser("collections", help="export or apply collection definitions")
    collection_commands = collections.add_subparsers(dest="collections_command", required=True)
    export = collection_commands.add_parser("export", help="write every definition to FILE")
    export.add_argument("file", help="path, or - for standard output (.yaml/.yml: YAML)")
    export.add_argument("--format", choices=["json", "yaml"])
    _common(export)
    apply = collection_commands.add_parser("apply", help="make collections match FILE")
    apply.add_argument("file", help="JSON or YAML file, or - for standard input")
    apply.add_argument("--prune", action="store_true", help="drop collections not in FILE")
    apply.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    _create_flag(apply)
    _common(apply)

    files = commands.add_parser("files", help="look after stored files")
    file_commands = files.add_subparsers(dest="files_command", required=True)
    gc = file_commands.add_parser(
        "gc",
        help="remove uploads no record took, files no record holds and objects no file names",
    )
    gc.add_argument("--dry-run", action="store_true", help="report only, remove nothing")
    _common(gc)

    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database (online), the master key file and local files into one"
        " checked .tar (docs/backups.md; PostgreSQL: pg_dump)",
    )
    backup.add_argument(
        "--to",
        help="a folder, a .tar file, or s3://bucket/prefix (default: the backup_to setting,"
        " ./backups)",
    )
    _common(backup)
    restore = commands.add_parser(
        "restore", help="put a backup back: database, master key, local files"
    )
    restore.add_argument("source", metavar="FROM", help="a backup file, or s3://bucket/key.tar")
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore even into a database a running minibase has open (restart it after)",
    )
    _common(restore)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir", "database_url", "dev", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    config = Path(args.config) if getattr(args, "config", None) else None
    return load_settings(overrides, config_file=config)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        if args.command == "sandbox":
            from minibase.sandbox.app import serve_sandbox

            url = f"http://{args.host}:{args.port}"
            log.info(
                "sandbox on %s: point sandbox_url at it, or a platform SDK's base URL at"
                " %s/<platform> (wechat, wechatpay, alipay, douyin, baidu, qq; docs/sandbox.md);"
                " its control API at %s/control",
                url,
                url,
                url,
            )
            serve_sandbox(args.host, args.port)
            return 0
        settings = settings_from(args)
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "serve":
            return serve(settings, args)
        return asyncio.run(_run(args, settings))
    except (
        BackupError,
        ConfigError,
        DataMissing,
        FunctionsError,
        VaultError,
        MigrationsPending,
        DatabaseUnavailable,
    ) as exc:
        print(f"minibase: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"minibase: {exc.code}: {exc.message}", file=sys.stderr)
        if exc.details:
            print(orjson.dumps(exc.details, option=orjson.OPT_INDENT_2).decode(), file=sys.stderr)
        return 1
    except OSError as exc:  # a file to read or write, a port to bind: no traceback for those
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"minibase: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from minibase.clock import SystemClock
    from minibase.services import database_for, open_services

    if args.command == "migrate":
        if settings.uses_sqlite and not settings.sqlite_path.exists():
            # a new installation: its master key too, so the other commands accept it (a
            # database that lost its key is not given a new one)
            load_master_key(settings.master_key, settings.data_dir)
        db = database_for(settings)
        await db.open()
        try:
            applied = await migrate(db, SystemClock())
        finally:
            await db.close()
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "nothing to do"
        print(f"migrations applied: {names}")
        return 0
    if args.command == "backup":
        return await _backup(settings, args.to or settings.backup_to)
    if args.command == "restore":
        return await _restore(settings, args.source, force=args.force)
    if not getattr(args, "create", False):
        require_existing_data(settings, can_create="create" in args)
    if args.command == "worker":
        if args.concurrency is not None:
            settings = settings.replace(job_concurrency=args.concurrency)
        return await _worker(settings)
    services = await open_services(settings)
    try:
        if args.command == "admin":
            return await _create_admin(services, args.email)
        if args.command == "files":
            return await _files_gc(services, args.dry_run)
        if args.collections_command == "export":
            return await _export(services, args)
        return await _apply(services, args)
    finally:
        await services.close()


class DataMissing(Exception):
    """A command that works on an installation found none where it looked."""


def require_existing_data(settings: Settings, *, can_create: bool) -> None:
    """Run from another folder, a command would otherwise open a new, empty database (and make
    a new master key) there, and report on that: refuse, saying where it looked."""
    needed = [settings.sqlite_path] if settings.uses_sqlite else []
    if not settings.master_key:
        needed.append(settings.data_dir / "master.key")
    missing = next((path for path in needed if not path.exists()), None)
    if missing is None:
        return
    found = f"no database at {missing.absolute()}"
    if missing != settings.sqlite_path:
        found = f"no master key at {missing.absolute()}, and MINIBASE_MASTER_KEY is not set"
    start = "--create starts" if can_create else "`minibase serve` or `minibase migrate` start"
    raise DataMissing(
        f"{found}: run this in the folder that holds the data directory, or give --data-dir"
        f" (or MINIBASE_DATA_DIR); {start} a new one"
    )


async def _worker(settings: Settings) -> int:
    """Until SIGTERM or Ctrl-C; running jobs finish before it exits."""
    import signal

    from minibase.services import background_for, open_services

    services = await open_services(settings)
    background = background_for(services, reload=False, run_jobs=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("minibase worker: %d at a time", settings.job_concurrency)
    background.start()
    try:
        await stop.wait()
    finally:
        await background.stop()
        await services.close()
    return 0


async def _create_admin(services: Any, email: str) -> int:
    from minibase.auth.admins import create_admin

    password = os.environ.get("MINIBASE_ADMIN_PASSWORD")
    if not password:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat password: "):
            print("minibase: the passwords differ", file=sys.stderr)
            return 1
    admin = await create_admin(services.db, services.clock, services.ids, email, password)
    print(f"admin created: {admin.email} ({admin.id})")
    return 0


async def _files_gc(services: Any, dry_run: bool) -> int:
    report = (await services.files.gc(dry_run=dry_run)).to_json()
    verb = "would remove" if dry_run else "removed"
    print(
        f"{verb}: {report['pending']} uploads no record took,"
        f" {report['unfinished']} unfinished uploads, {report['unheld']} files no record holds,"
        f" {report['orphans']} objects no file names"
    )
    for name in ("files", "objects"):
        for item in report[name]:
            print(f"  {name[:-1]} {item}")
    return 0


async def _backup(settings: Settings, to: str) -> int:
    from minibase.backups.backup import take_backup
    from minibase.clock import SystemClock

    taken = await take_backup(settings, to, SystemClock().now())
    manifest = taken.manifest
    print(f"backup written: {taken.where}")
    print(
        f"  database: schema version {manifest.schema_version}, {manifest.database_bytes} bytes,"
        " integrity_check ok"
    )
    if manifest.files_storage == "local":
        print(f"  files: {manifest.files} of local storage")
    else:
        print(f"  files: not in this backup: they stay in the S3 bucket {settings.s3_bucket}")
    if manifest.master_key:
        print(
            "  master key: IN THIS BACKUP: whoever holds this file can read every sealed secret;"
            " keep it as private as the key"
        )
    else:
        print(
            "WARNING: this backup does NOT hold the master key (it comes from"
            " MINIBASE_MASTER_KEY). The secrets sealed in its database (app secrets, payment"
            " keys) open only with that key: keep the key safe apart from the backup.",
            file=sys.stderr,
        )
    return 0


async def _restore(settings: Settings, source: str, *, force: bool) -> int:
    from minibase.backups.backup import restore_from

    restored = await restore_from(settings, source, force=force)
    manifest = restored.manifest
    print(
        f"restored {source} into {restored.database} (made {manifest.created_at} by minibase"
        f" {manifest.minibase_version}, schema version {manifest.schema_version})"
    )
    key_file = settings.data_dir / "master.key"
    if restored.master_key == "restored":
        print(f"  master key: restored to {key_file}")
        if restored.previous_key is not None:
            print(f"  the other key that was there is kept at {restored.previous_key}")
    elif restored.master_key == "unchanged":
        print(f"  master key: {key_file} is already the backup's")
    else:
        print(
            "WARNING: this backup holds no master key: its sealed secrets (app secrets, payment"
            " keys) open only with the key it was made with; set MINIBASE_MASTER_KEY to it.",
            file=sys.stderr,
        )
    if restored.key_overridden:
        print(
            f"WARNING: MINIBASE_MASTER_KEY is set and is not the backup's key, which is in"
            f" {key_file}: unset it (or set it to that key), or sealed secrets cannot be read.",
            file=sys.stderr,
        )
    files = {
        "restored": f"  files: restored to {settings.data_dir / 'files'}",
        "in_bucket": "  files: not in the backup (they are in its S3 bucket)",
        "not_used": "  files: the backup's local files are not restored: this installation"
        " keeps files in S3",
    }
    print(files[restored.files])
    print(
        "restart the server: it holds the old data in memory"
        if force
        else "next: `minibase serve` (it applies migrations newer than the backup)"
    )
    return 0


async def _export(services: Any, args: argparse.Namespace) -> int:
    from minibase.data.definitions import export_definitions

    document = {"collections": await export_definitions(services)}
    as_yaml = args.format == "yaml" or (
        args.format is None and args.file.endswith((".yaml", ".yml"))
    )
    if as_yaml:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    else:
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    if args.file == "-":
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(Path(args.file).write_text, text, encoding="utf-8")
        print(f"exported {len(document['collections'])} collections to {args.file}")
    return 0


async def _apply(services: Any, args: argparse.Namespace) -> int:
    from minibase.data.definitions import (
        apply_definitions,
        parse_definitions_file,
        plan_definitions,
    )

    if args.file == "-":
        raw = await asyncio.to_thread(sys.stdin.buffer.read)
    else:
        raw = await asyncio.to_thread(Path(args.file).read_bytes)
    document = parse_definitions_file(raw)
    if args.dry_run:
        plan = await plan_definitions(services, document, prune=args.prune)
    else:
        plan = await apply_definitions(services, document, prune=args.prune)
    summary = plan.to_json()
    prefix = "would be " if args.dry_run else ""
    for change in ("created", "altered", "dropped", "unchanged"):
        if summary[change]:
            print(
                f"{prefix if change != 'unchanged' else ''}{change}: {', '.join(summary[change])}"
            )
    return 0


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """Prepare once (key, migrations), then hand over to the HTTP server's workers."""
    from minibase.services import open_services

    load_master_key(settings.master_key, settings.data_dir)
    workers = worker_count(settings)
    if settings.dev and not settings.sandbox_url and workers > 1:
        raise ConfigError("--dev runs the sandbox in the server's process: use one worker")

    async def prepare() -> None:
        services = await open_services(settings)
        await services.close()

    asyncio.run(prepare())
    for name in ("host", "port", "data_dir", "database_url", "dev", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            os.environ[env_name(name)] = str(value)
    if getattr(args, "config", None):
        os.environ["MINIBASE_CONFIG"] = args.config
    where = "SQLite at " + str(settings.sqlite_path) if settings.uses_sqlite else "PostgreSQL"
    log.info(
        "minibase %s on http://%s:%d (%s, %d worker%s)",
        __version__,
        settings.host,
        settings.port,
        where,
        workers,
        "" if workers == 1 else "s",
    )
    _log_sandbox(settings)
    run_http_server(settings, workers)
    return 0


def _log_sandbox(settings: Settings) -> None:
    """Say where the fake platforms are: in --dev they answer in place of the real ones."""
    from minibase.app import in_process_sandbox_url

    here = in_process_sandbox_url(settings)
    if here:
        log.info(
            "sandbox of the platforms (fake WeChat, Alipay, Douyin, Baidu, QQ) in this server at"
            " %s (a platform SDK's base URL: %s/<platform>, see docs/sandbox.md); its control"
            " API (the phone's side: login codes, payments) at %s/control",
            here,
            here,
            here,
        )
    elif settings.sandbox_url:
        log.info("the platforms are the sandbox at %s, not the real hosts", settings.sandbox_url)
