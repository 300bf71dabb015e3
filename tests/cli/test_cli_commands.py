"""`minibase migrate`, `minibase admin create` and `minibase collections export|apply`, and how
commands that work on an installation refuse to make an empty one where there is none."""

from __future__ import annotations

import json
import sqlite3

import pytest
import yaml
from cli_process import Cli

from minibase.store.migrations import MIGRATIONS

PASSWORD = {"MINIBASE_ADMIN_PASSWORD": "a long password"}
KEY = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="

NOTES_YAML = """\
collections:
  - name: notes
    fields:
      text: {type: string, required: true}
      mood: {type: enum, values: ["yes", "no"]}
    indexes: [-text]
    rules: {preset: owner_only}
  - name: tags
"""


ALL_MIGRATIONS = ", ".join(f"{m.version:04d}_{m.name}" for m in MIGRATIONS)


def test_migrate_applies_pending_migrations_once(cli: Cli) -> None:
    first = cli.run("migrate", "--data-dir", str(cli.data_dir))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"migrations applied: {ALL_MIGRATIONS}"
    again = cli.run("migrate", "--data-dir", str(cli.data_dir))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "migrations applied: nothing to do"


def test_migrate_on_postgres_applies_pending_migrations_once(cli: Cli, empty_postgres: str) -> None:
    where = ("--data-dir", str(cli.data_dir), "--database-url", empty_postgres)
    assert cli.run("migrate", *where).stdout.strip() == f"migrations applied: {ALL_MIGRATIONS}"
    assert cli.run("migrate", *where).stdout.strip() == "migrations applied: nothing to do"


def test_admin_create_takes_the_password_from_the_environment(cli: Cli) -> None:
    where = ("--data-dir", str(cli.data_dir))
    created = cli.run("admin", "create", "Ops@Example.com", "--create", *where, env=PASSWORD)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("admin created: ops@example.com (")
    with sqlite3.connect(cli.data_dir / "data.db") as db:
        (email, stored), *_ = db.execute("SELECT email, password_hash FROM admins").fetchall()
    assert email == "ops@example.com"
    assert stored.startswith("$argon2id$")

    duplicate = cli.run("admin", "create", "ops@example.com", *where, env=PASSWORD)
    assert duplicate.returncode != 0
    assert "admins.exists" in duplicate.stderr
    assert "ops@example.com exists" in duplicate.stderr

    short = {"MINIBASE_ADMIN_PASSWORD": "short"}
    refused = cli.run("admin", "create", "two@example.com", *where, env=short)
    assert refused.returncode != 0
    assert "the password needs at least 10 characters" in refused.stderr
    assert "Traceback" not in refused.stderr + duplicate.stderr


def test_collections_apply_and_export_in_yaml_and_json(cli: Cli) -> None:
    where = ("--data-dir", str(cli.data_dir))
    source = cli.workdir / "definitions.yaml"
    source.write_text(NOTES_YAML)

    dry = cli.run("collections", "apply", str(source), "--dry-run", "--create", *where)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == ["would be created: notes, tags"]
    exported = cli.run("collections", "export", "-", *where)
    assert json.loads(exported.stdout) == {"collections": []}

    applied = cli.run("collections", "apply", str(source), *where)
    assert applied.stdout.splitlines() == ["created: notes, tags"]

    as_yaml, as_json = cli.workdir / "out.yml", cli.workdir / "out.json"
    assert cli.run("collections", "export", str(as_yaml), *where).returncode == 0
    assert cli.run("collections", "export", str(as_json), *where).returncode == 0
    document = json.loads(as_json.read_text())
    assert yaml.safe_load(as_yaml.read_text()) == document
    assert [c["name"] for c in document["collections"]] == ["notes", "tags"]
    assert document["collections"][0]["fields"]["mood"]["values"] == ["yes", "no"]

    again = cli.run("collections", "apply", str(as_yaml), *where)
    assert again.stdout.splitlines() == ["unchanged: notes, tags"]


def test_collections_apply_prunes_only_when_asked(cli: Cli) -> None:
    where = ("--data-dir", str(cli.data_dir))
    source = cli.workdir / "definitions.yaml"
    source.write_text(NOTES_YAML)
    cli.run("collections", "apply", str(source), "--create", *where)
    only_tags = cli.workdir / "tags.json"
    only_tags.write_text(json.dumps([{"name": "tags", "rules": {"preset": "owner_only"}}]))

    dry = cli.run("collections", "apply", str(only_tags), "--prune", "--dry-run", *where)
    assert dry.stdout.splitlines() == ["would be altered: tags", "would be dropped: notes"]
    pruned = cli.run("collections", "apply", str(only_tags), "--prune", *where)
    assert pruned.stdout.splitlines() == ["altered: tags", "dropped: notes"]
    listed = json.loads(cli.run("collections", "export", "-", *where).stdout)
    assert [c["name"] for c in listed["collections"]] == ["tags"]


def test_a_file_that_cannot_be_applied_changes_nothing_and_says_why(cli: Cli) -> None:
    where = ("--data-dir", str(cli.data_dir))
    broken = cli.workdir / "broken.yaml"
    broken.write_text("- name: good\n- name: bad\n  fields: {x: {type: nope}}\n")
    result = cli.run("collections", "apply", str(broken), "--create", *where)
    assert result.returncode == 1
    assert "collections.invalid_definition" in result.stderr
    assert '"field": "fields.x"' in result.stderr
    typo = cli.workdir / "typo.yaml"
    typo.write_text(
        "- name: notes\n  additional: false\n  fields: {owner: {type: string}}\n"
        "  rules: {read: doc.ownr == auth.id}\n"
    )
    result = cli.run("collections", "apply", str(typo), *where)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "minibase: collections.invalid_rule: rule read: doc.ownr at 0:"
        " notes has no field 'ownr' (did you mean 'owner'?)\n"
    )
    listed = json.loads(cli.run("collections", "export", "-", *where).stdout)
    assert listed == {"collections": []}
    missing = cli.run("collections", "apply", "nope.yaml", *where)
    assert missing.returncode != 0
    assert missing.stderr == "minibase: nope.yaml: No such file or directory\n"


MISSING_DATA_HINT = "run this in the folder that holds the data directory, or give --data-dir"


@pytest.mark.parametrize(
    "command",
    [
        ("collections", "export", "out.json"),
        ("collections", "export", "-"),
        ("collections", "apply", "definitions.yaml"),
        ("collections", "apply", "definitions.yaml", "--dry-run"),
        ("admin", "create", "ops@example.com"),
        ("worker",),
    ],
    ids=" ".join,
)
def test_a_command_run_where_there_is_no_data_directory_refuses_and_creates_nothing(
    cli: Cli, command: tuple[str, ...]
) -> None:
    (cli.workdir / "definitions.yaml").write_text(NOTES_YAML)
    before = sorted(cli.workdir.iterdir())
    refused = cli.run(*command, env=PASSWORD)
    assert refused.returncode == 2
    database = cli.workdir / "minibase_data" / "data.db"
    assert refused.stderr.startswith(f"minibase: no database at {database}: {MISSING_DATA_HINT}")
    can_create = command[:1] == ("admin",) or command[:2] == ("collections", "apply")
    start = "--create starts" if can_create else "`minibase serve` or `minibase migrate` start"
    assert refused.stderr.endswith(f"; {start} a new one\n")
    assert refused.stdout == ""  # not "exported 0 collections"
    assert sorted(cli.workdir.iterdir()) == before


def test_create_starts_a_new_data_directory_when_asked(cli: Cli) -> None:
    created = cli.run("admin", "create", "ops@example.com", "--create", env=PASSWORD)
    assert created.returncode == 0, created.stderr
    assert (cli.workdir / "minibase_data" / "data.db").is_file()
    assert (cli.workdir / "minibase_data" / "master.key").is_file()
    exported = cli.run("collections", "export", "-")  # now there is one: no --create needed
    assert json.loads(exported.stdout) == {"collections": []}


def test_migrate_starts_a_new_installation_that_the_other_commands_accept(cli: Cli) -> None:
    assert cli.run("migrate").returncode == 0
    assert (cli.workdir / "minibase_data" / "master.key").is_file()
    created = cli.run("admin", "create", "ops@example.com", env=PASSWORD)
    assert created.returncode == 0, created.stderr
    exported = cli.run("collections", "export", "-")
    assert json.loads(exported.stdout) == {"collections": []}


def test_a_database_without_its_master_key_is_refused_rather_than_given_a_new_key(
    cli: Cli,
) -> None:
    where = ("--data-dir", str(cli.data_dir))
    assert cli.run("migrate", *where).returncode == 0
    (cli.data_dir / "master.key").unlink()  # a database; the key is elsewhere
    assert cli.run("migrate", *where).returncode == 0  # which migrate does not replace
    refused = cli.run("collections", "export", "-", *where)
    assert refused.returncode == 2
    key = cli.data_dir / "master.key"
    assert f"no master key at {key}, and MINIBASE_MASTER_KEY is not set" in refused.stderr
    assert not key.exists()
    with_key = cli.run("collections", "export", "-", *where, env={"MINIBASE_MASTER_KEY": KEY})
    assert with_key.returncode == 0, with_key.stderr
    assert not key.exists()


def test_postgres_with_its_master_key_set_needs_no_data_directory(
    cli: Cli, empty_postgres: str
) -> None:
    env = {"MINIBASE_DATABASE_URL": empty_postgres, "MINIBASE_MASTER_KEY": KEY}
    assert cli.run("migrate", env=env).returncode == 0
    exported = cli.run("collections", "export", "-", env=env)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout) == {"collections": []}
    assert not (cli.workdir / "minibase_data").exists()
