"""What the server keeps of files, read straight from the store: the `files` rows and every
file under <data_dir>/files. The fault tests use them as evidence that a refused, cut-off or
dropped upload left nothing behind (no row a record could name, no object, no temporary)."""

from __future__ import annotations

from pathlib import Path

from minibase.config import Settings
from minibase.data.file_refs import FILE_COLUMNS, FileRow
from minibase.services import Services


async def file_rows(services: Services) -> list[FileRow]:
    """Every row of the `files` table, in id order."""
    async with services.db.reader() as reader:
        rows = await reader.fetch_all(f"SELECT {FILE_COLUMNS} FROM files ORDER BY id")
    return [FileRow.from_row(row) for row in rows]


async def file_row(services: Services, file_id: str) -> FileRow | None:
    found = [row for row in await file_rows(services) if row.id == file_id]
    return found[0] if found else None


def files_root(settings: Settings) -> Path:
    return settings.data_dir / "files"


def objects(settings: Settings) -> list[str]:
    """The keys of the objects on disk (`<collection id>/<file id>[.thumb-...]`), without the
    dot-files the local storage keeps beside them."""
    root = files_root(settings)
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )


def everything_on_disk(settings: Settings) -> list[str]:
    """Every file under <data_dir>/files, dot-files (metadata, temporaries) included."""
    root = files_root(settings)
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
