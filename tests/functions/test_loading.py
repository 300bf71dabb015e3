"""The functions folder: what is loaded, what stops the start with a clear message, and --dev
reloading when a file changes (a broken edit keeps the running code)."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from minibase.auth.caller import ANONYMOUS
from minibase.functions.background import Background
from minibase.functions.registry import FunctionsError, load_functions
from minibase.services import Services


def _write(folder: Path, name: str, source: str) -> None:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    # mtime moves even within the filesystem's timestamp granularity
    stamp = time.time() + len(list(folder.iterdir()))
    os.utime(path, (stamp, stamp))


def _reloading(services: Services, folder: Path) -> Background:
    """The server's functions loaded from `folder`, and --dev's reloader watching it."""
    services.functions.registry = load_functions(folder)
    settings = services.settings.replace(functions_dir=folder)
    return Background(services.functions, services.jobs, settings, run_jobs=False, reload=True)


def test_declarations_of_every_kind_are_collected(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "shop.py",
        """
        from minibase.functions import after, before, function, job, schedule

        @function(auth="admin")
        async def refund(ctx, input): ...

        @before("orders", "create")
        @after("orders")
        async def audit(ctx, event): ...

        @schedule("@daily")
        async def cleanup(ctx): ...

        @job("mail")
        async def mail(ctx, payload): ...
    """,
    )
    _write(tmp_path, "_helpers.py", "raise RuntimeError('helpers are not function files')")
    registry = load_functions(tmp_path)
    assert set(registry.functions) == {"refund"}
    assert registry.functions["refund"].auth == "admin"
    assert [h.name for h in registry.hooks_for("before", "orders", "create")] == ["shop.audit"]
    assert len(registry.hooks_for("after", "ORDERS", "delete")) == 1
    assert set(registry.schedules) == {"cleanup"}
    assert set(registry.jobs) == {"mail"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def broken(:\n", "SyntaxError"),
        ("import not_a_module_anywhere\n", "ModuleNotFoundError"),
        (
            "from minibase.functions import function\n@function()\nasync def f(ctx, i): ...\n"
            "@function(name='f')\nasync def g(ctx, i): ...\n",
            "exists already",
        ),
        (
            "from minibase.functions import schedule\n@schedule('61 * * * *')\n"
            "async def s(ctx): ...\n",
            "minute",
        ),
        (
            "from minibase.functions import schedule\n@schedule('@daily', tz='Mars/Olympus')\n"
            "async def s(ctx): ...\n",
            "time zone",
        ),
        (
            "from minibase.functions import function\n@function()\nasync def f(ctx): ...\n",
            "must accept",
        ),
        (
            "from minibase.functions import function\n@function(schema={'a': {'type': 'x'}})\n"
            "async def f(ctx, i): ...\n",
            "schema",
        ),
        (
            "from minibase.functions import before\n@before('posts', 'upsert')\n"
            "async def h(ctx, e): ...\n",
            "actions",
        ),
        (
            "from minibase.functions import job\n@job('minibase.after_hook')\n"
            "async def j(ctx, p): ...\n",
            "'minibase.' is for minibase's own jobs",
        ),
        (
            "from minibase.functions import job\n@job('mail', max_attempts=0)\n"
            "async def j(ctx, p): ...\n",
            "max_attempts must be a whole number from 1 to 100",
        ),
        (
            "from minibase.functions import job\n@job('mail', timeout=7200)\n"
            "async def j(ctx, p): ...\n",
            "timeout is at most 3600 s",
        ),
    ],
)
def test_a_broken_folder_stops_the_load_naming_the_file(
    tmp_path: Path, source: str, message: str
) -> None:
    _write(tmp_path, "shop.py", source)
    with pytest.raises(FunctionsError, match=message) as refused:
        load_functions(tmp_path)
    assert "shop.py" in str(refused.value)


async def test_dev_reload_picks_up_an_edit_and_keeps_the_old_code_on_a_broken_one(
    services: Services,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    _write(
        folder,
        "app.py",
        """
        from minibase.functions import function
        @function(auth="public")
        async def version(ctx, input):
            return 1
    """,
    )
    background = _reloading(services, folder)

    assert await services.functions.call("version", ANONYMOUS, None, None) == 1
    _write(
        folder,
        "app.py",
        """
        from minibase.functions import function
        @function(auth="public")
        async def version(ctx, input):
            return 2
    """,
    )
    assert await background.reload_if_changed() is True
    assert await services.functions.call("version", ANONYMOUS, None, None) == 2
    _write(folder, "app.py", "def broken(:\n")
    assert await background.reload_if_changed() is False
    assert await services.functions.call("version", ANONYMOUS, None, None) == 2
    assert await background.reload_if_changed() is False  # nothing new since


async def test_dev_reload_picks_up_an_edited_helper_module(
    services: Services, tmp_path: Path
) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    _write(folder, "_prices.py", "PRICE = 1\n")
    _write(
        folder,
        "app.py",
        """
        import _prices
        from minibase.functions import function
        @function(auth="public")
        async def price(ctx, input):
            return _prices.PRICE
    """,
    )
    background = _reloading(services, folder)

    assert await services.functions.call("price", ANONYMOUS, None, None) == 1
    _write(folder, "_prices.py", "PRICE = 2\n")
    assert await background.reload_if_changed() is True
    assert await services.functions.call("price", ANONYMOUS, None, None) == 2
