"""Admin features over collection definitions: create, alter, drop, export and apply.

Each runs in one transaction: the table DDL, the re-check of existing records against a new
schema, the metadata row and the version counter commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from minibase.clock import isoformat
from minibase.data.file_refs import discard_collection_files, rows_by_id
from minibase.data.known_paths import check_rule_paths
from minibase.data.references import values_at
from minibase.errors import ApiError
from minibase.services import Services
from minibase.store.collections import Collection, InvalidDefinition, parse_definition
from minibase.store.database import Connection, IntegrityViolation
from minibase.store.registry import bump_version
from minibase.store.schema import ValidationError
from minibase.store.tables import create_index, create_table, drop_index, drop_table

MAX_REPORTED = 20
READ_ONLY_KEYS = frozenset({"id", "preset", "created", "updated"})
_BATCH = 500


def invalid_definition(exc: InvalidDefinition) -> ApiError:
    if exc.rule is not None:
        return ApiError(
            "collections.invalid_rule",
            400,
            f"rule {exc.rule['action']}: {exc.rule['message']}",
            {"rule": exc.rule},
        )
    return ApiError(
        "collections.invalid_definition",
        400,
        "the collection definition is invalid",
        {"problems": exc.problems},
    )


def compile_definition(
    definition: Any, collection_id: str, created: str, updated: str
) -> Collection:
    """A definition as it will be saved: parsed, and its rules reading only fields a record
    can hold (so dropping or closing a field a rule reads is refused too)."""
    try:
        collection = parse_definition(
            definition, collection_id=collection_id, created=created, updated=updated
        )
    except InvalidDefinition as exc:
        raise invalid_definition(exc) from None
    check_rule_paths(collection)
    return collection


@dataclass
class Plan:
    """What `apply` does (or would do, in a dry run)."""

    created: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, list[str]]:
        return {
            "created": self.created,
            "altered": self.altered,
            "unchanged": self.unchanged,
            "dropped": self.dropped,
        }


async def create_collection(services: Services, definition: Any) -> Collection:
    await services.collections.load()  # another worker may have changed them a moment ago
    async with services.db.transaction() as conn:
        collection = await _create(services, conn, definition, pending={})
    await services.collections.load()
    return collection


async def alter_collection(
    services: Services, name: str, changes: Mapping[str, Any], *, replace: bool = False
) -> Collection:
    """PATCH merges top-level keys into the definition; PUT (replace) takes it whole.

    The read-only keys of a collection as GET returns it (id, preset, created, updated) are
    ignored, so a client can send back what it read, edited.
    """
    await services.collections.load()  # as it is now, not as this worker saw it lately
    current = await services.collections.get(name)
    edited = {key: value for key, value in changes.items() if key not in READ_ONLY_KEYS}
    merged = edited if replace else {**current.to_definition(), **edited}
    async with services.db.transaction() as conn:
        collection = await _alter(services, conn, current, merged, pending={})
    await services.collections.load()
    if collection.indexes != current.indexes:
        services.db.refresh_statistics(collection.table)
    return collection


async def drop_collection(services: Services, name: str) -> None:
    await services.collections.load()
    collection = await services.collections.get(name)
    async with services.db.transaction() as conn:
        await _drop(services, conn, collection, await services.collections.all(), dropping=set())
    await services.collections.load()


async def export_definitions(services: Services) -> list[dict[str, Any]]:
    return [c.to_definition() for c in await services.collections.all()]


async def apply_definitions(
    services: Services, definitions: Any, *, prune: bool = False, dry_run: bool = False
) -> Plan:
    """Make the collections match a file of definitions (create, alter, optionally drop)."""
    if not isinstance(definitions, list):
        raise ApiError("collections.invalid_definition", 400, "expected a list of definitions")
    names = [d.get("name") if isinstance(d, Mapping) else None for d in definitions]
    if len({str(n).lower() for n in names}) != len(names):
        raise ApiError("collections.invalid_definition", 400, "a collection name appears twice")
    await services.collections.load()
    existing = {c.name.lower(): c for c in await services.collections.all()}
    plan = Plan()
    pending = {str(n).lower(): d for n, d in zip(names, definitions, strict=True)}
    async with services.db.transaction() as conn:
        applied: list[Collection] = []  # the file's collections as they will be
        for name, definition in zip(names, definitions, strict=True):
            current = existing.get(str(name).lower())
            if current is None:
                applied.append(await _create(services, conn, definition, pending))
                plan.created.append(str(name))
            elif _same(current, definition):
                applied.append(current)
                plan.unchanged.append(current.name)
            else:
                applied.append(await _alter(services, conn, current, definition, pending))
                plan.altered.append(current.name)
        if prune:
            doomed = [c for key, c in existing.items() if key not in pending]
            for collection in doomed:
                # What stays is exactly the file: only its references can hold a drop back.
                await _drop(
                    services, conn, collection, applied, dropping={c.name.lower() for c in doomed}
                )
                plan.dropped.append(collection.name)
        if dry_run:
            raise _DryRun(plan)
    await services.collections.load()
    for collection in applied:
        if collection.name in plan.altered:
            services.db.refresh_statistics(collection.table)
    return plan


class _DryRun(Exception):
    def __init__(self, plan: Plan) -> None:
        super().__init__("dry run")
        self.plan = plan


async def plan_definitions(services: Services, definitions: Any, *, prune: bool = False) -> Plan:
    """Apply in a transaction that is rolled back: every check runs, nothing changes."""
    try:
        await apply_definitions(services, definitions, prune=prune, dry_run=True)
    except _DryRun as dry:
        return dry.plan
    raise AssertionError("a dry run always rolls back")


def _same(current: Collection, definition: Any) -> bool:
    try:
        candidate = parse_definition(definition, collection_id=current.id)
    except InvalidDefinition:
        return False
    return candidate.to_definition() == current.to_definition()


# -- steps inside a transaction ----------------------------------------------------------


async def _create(
    services: Services, conn: Connection, definition: Any, pending: Mapping[str, Any]
) -> Collection:
    now = isoformat(services.clock.now())
    collection = compile_definition(definition, services.ids.new(), now, now)
    await _check_name_free(conn, collection)
    _check_references(services, collection, pending)
    await conn.execute_script(create_table(conn.dialect, collection))
    await conn.execute(
        "INSERT INTO collections (id, name, name_key, definition, created, updated)"
        f" VALUES (?, ?, ?, {conn.dialect.json_param()}, ?, ?)",
        collection.id,
        collection.name,
        collection.name.lower(),
        orjson.dumps(collection.to_definition()).decode(),
        now,
        now,
    )
    await bump_version(conn)
    return collection


async def _alter(
    services: Services,
    conn: Connection,
    current: Collection,
    definition: Any,
    pending: Mapping[str, Any],
) -> Collection:
    now = isoformat(services.clock.now())
    altered = compile_definition(definition, current.id, current.created, now)
    renamed_from = None
    if altered.name.lower() != current.name.lower():
        await _check_name_free(conn, altered)
        # References name collections: others' would dangle, so a referenced one keeps its name.
        _check_not_referenced(current, await services.collections.all(), set(), "rename")
        renamed_from = current.name.lower()
    _check_references(services, altered, pending, renamed_from)
    if altered.schema.to_definition() != current.schema.to_definition() or (
        altered.schema.additional != current.schema.additional
    ):
        await _recheck_records(
            conn,
            altered,
            _new_references(services, current, altered),
            _new_file_fields(current, altered),
        )
    old = {index.fingerprint: index for index in current.indexes}
    new = {index.fingerprint: index for index in altered.indexes}
    for key in old.keys() - new.keys():
        await conn.execute_script(drop_index(conn.dialect, current, old[key]))
    for key in new.keys() - old.keys():
        try:
            await conn.execute_script(create_index(conn.dialect, altered, new[key]))
        except IntegrityViolation:
            raise ApiError(
                "collections.unique_violation",
                409,
                f"existing records hold duplicate values for {new[key].to_definition()['fields']}",
            ) from None
    await conn.execute(
        f"UPDATE collections SET name = ?, name_key = ?, definition = {conn.dialect.json_param()},"
        " updated = ? WHERE id = ?",
        altered.name,
        altered.name.lower(),
        orjson.dumps(altered.to_definition()).decode(),
        now,
        altered.id,
    )
    await bump_version(conn)
    return altered


async def _drop(
    services: Services,
    conn: Connection,
    collection: Collection,
    everything: Sequence[Collection],
    dropping: set[str],
) -> None:
    _check_not_referenced(collection, everything, dropping, "drop")
    await discard_collection_files(services, conn, collection.id)
    await conn.execute_script(drop_table(conn.dialect, collection))
    await conn.execute("DELETE FROM collections WHERE id = ?", collection.id)
    await bump_version(conn)


async def _check_name_free(conn: Connection, collection: Collection) -> None:
    taken = await conn.fetch_value(
        "SELECT id FROM collections WHERE name_key = ?", collection.name.lower()
    )
    if taken is not None and taken != collection.id:
        raise ApiError("collections.exists", 409, f"a collection named {collection.name} exists")


def _check_not_referenced(
    collection: Collection, everything: Sequence[Collection], dropping: set[str], action: str
) -> None:
    for other in everything:
        if other.id == collection.id or other.name.lower() in dropping:
            continue
        for path, target in other.schema.references():
            if target.lower() == collection.name.lower():
                raise ApiError(
                    "collections.referenced",
                    409,
                    f"{other.name}.{'.'.join(path)} references {collection.name};"
                    f" change it before you {action} {collection.name}",
                )


def _check_references(
    services: Services,
    collection: Collection,
    pending: Mapping[str, Any],
    renamed_from: str | None = None,
) -> None:
    for path, target in collection.schema.references():
        key = target.lower()
        if key == collection.name.lower() or key in pending:
            continue
        if key != renamed_from and services.collections.find(key):
            continue
        raise ApiError(
            "collections.invalid_definition",
            400,
            f"field {'.'.join(path)} references {target!r}, which is not a collection",
            {"problems": [{"field": "fields." + ".".join(path), "message": "unknown collection"}]},
        )


# (path, target name, target collection or None when it is created in this same transaction)
NewReference = tuple[tuple[str, ...], str, Collection | None]


def _new_references(
    services: Services, current: Collection, altered: Collection
) -> list[NewReference]:
    """Reference fields the alter adds: existing values must point at existing records."""
    before = {(path, target.lower()) for path, target in current.schema.references()}
    added: list[NewReference] = []
    for path, target in altered.schema.references():
        if (path, target.lower()) not in before:
            own = target.lower() == altered.name.lower()
            added.append((path, target, altered if own else services.collections.find(target)))
    return added


def _new_file_fields(current: Collection, altered: Collection) -> list[str]:
    """File fields the alter makes of fields that were not file fields (their values must be
    files uploaded to them, not ids that look like some)."""
    before = current.schema.file_fields()
    return [name for name in altered.schema.file_fields() if name not in before]


async def _foreign_files(
    conn: Connection, collection: Collection, fields: Sequence[str], records: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """(record id, problem) for each value of a new file field that is no file of that record."""
    found: list[tuple[str, dict[str, Any]]] = []
    specs = collection.schema.file_fields()
    for name in fields:
        for record_id, record in records.items():
            ids = specs[name].file_ids(record.get(name))
            held = {
                row.id
                for row in await rows_by_id(conn, ids)
                if (row.collection_id, row.field, row.record_id, row.state)
                == (collection.id, name, record_id, "ready")
            }
            if set(ids) - held:
                message = "holds values that are not files uploaded to this field"
                found.append((record_id, {"field": name, "code": "file", "message": message}))
    return found


async def _recheck_records(
    conn: Connection,
    collection: Collection,
    references: Sequence[NewReference],
    file_fields: Sequence[str] = (),
) -> None:
    """Validate every record under the new schema; fill new defaults; refuse if any fails."""
    failures: dict[str, list[dict[str, Any]]] = {}
    after = ""
    while True:
        rows = await conn.fetch_all(
            f"SELECT _id, data FROM {collection.table} WHERE _id > ? ORDER BY _id LIMIT ?",
            after,
            _BATCH,
        )
        valid: dict[str, dict[str, Any]] = {}
        for record_id, raw in rows:
            document = orjson.loads(raw)
            user_part = {k: v for k, v in document.items() if not k.startswith("_")}
            try:
                normalized = collection.schema.validate(user_part, apply_defaults=True)
            except ValidationError as exc:
                failures[record_id] = exc.problems[:5]
                continue
            valid[record_id] = normalized
            if normalized != user_part and not failures:
                system = {k: v for k, v in document.items() if k.startswith("_")}
                await conn.execute(
                    f"UPDATE {collection.table} SET data = {conn.dialect.json_param()}"
                    " WHERE _id = ?",
                    orjson.dumps({**system, **normalized}).decode(),
                    record_id,
                )
        for record_id, problem in await _dangling(conn, references, valid):
            failures.setdefault(record_id, []).append(problem)
        for record_id, problem in await _foreign_files(conn, collection, file_fields, valid):
            failures.setdefault(record_id, []).append(problem)
        if len(rows) < _BATCH or len(failures) >= MAX_REPORTED:
            break
        after = rows[-1][0]
    if failures:
        reported = [{"_id": k, "problems": v} for k, v in failures.items()][:MAX_REPORTED]
        raise ApiError(
            "collections.incompatible_records",
            409,
            "existing records do not satisfy the new schema; fix them or relax the schema",
            {"records": reported},
        )


async def _dangling(
    conn: Connection, references: Sequence[NewReference], records: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """(record id, problem) for each value of a new reference field that names no record."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path, target_name, target in references:
        named = {record_id: set(values_at(doc, path)) for record_id, doc in records.items()}
        existing = await _existing_ids(conn, target, set[str]().union(*named.values()))
        field_name = ".".join(segment for segment in path if segment != "*")
        for record_id, ids in named.items():
            absent = sorted(ids - existing)
            if absent:
                message = f"points at {target_name} records that do not exist: {absent[:5]}"
                found.append(
                    (record_id, {"field": field_name, "code": "reference", "message": message})
                )
    return found


async def _existing_ids(conn: Connection, target: Collection | None, ids: set[str]) -> set[str]:
    if target is None:  # created in this transaction: it holds no records yet
        return set()
    wanted, existing = sorted(ids), set[str]()
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT _id FROM {target.table} WHERE _id IN ({marks})"
        existing.update(row[0] for row in await conn.fetch_all(sql, *chunk))
    return existing


def parse_definitions_file(raw: bytes) -> Any:
    """JSON or YAML (JSON is YAML); either `{collections: [...]}` or a bare list."""
    try:
        document = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ApiError("request.malformed_json", 400, f"not valid JSON or YAML: {exc}") from None
    if isinstance(document, dict) and set(document) == {"collections"}:
        document = document["collections"]
    if not isinstance(document, list):
        raise ApiError(
            "collections.invalid_definition",
            400,
            "expected {collections: [...]} or a list of definitions",
        )
    return document
