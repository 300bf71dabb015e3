"""The deployment files as data, for the tests of deploy/: YAML documents, the Dockerfile's
instructions, and the names of real settings."""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path
from typing import Any

import yaml

from minibase.config import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

SETTING_VARIABLES = frozenset(
    env_name(field.name) for field in dataclasses.fields(Settings) if field.name != "extra"
)
# read by the `minibase` command, not Settings: the config file and `admin create`'s password
COMMAND_VARIABLES = frozenset({"MINIBASE_CONFIG", "MINIBASE_ADMIN_PASSWORD"})


def unknown_minibase_variables(names: object) -> set[str]:
    """The MINIBASE_* names among `names` that minibase does not read."""
    return {
        name
        for name in names  # type: ignore[attr-defined]
        if str(name).startswith("MINIBASE_") and name not in SETTING_VARIABLES | COMMAND_VARIABLES
    }


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def kubernetes_documents() -> list[tuple[Path, dict[str, Any]]]:
    """Every object of every manifest in deploy/k8s (kustomization.yaml aside)."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((path, document))
    return found


def kubernetes_objects(kind: str) -> list[dict[str, Any]]:
    return [document for _, document in kubernetes_documents() if document["kind"] == kind]


def kubernetes_object(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in kubernetes_objects(kind) if o["metadata"]["name"] == name]
    return found


@dataclasses.dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form instruction (CMD ["a", "b"])."""
        value: list[str] = json.loads(self.arguments)
        return value


def dockerfile_instructions(path: Path = DEPLOY / "Dockerfile") -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped; `stage` counts FROMs."""
    instructions: list[Instruction] = []
    pending = ""
    stage = -1
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, arguments = text.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    return instructions


def dockerfile_env(instructions: list[Instruction], stage: int) -> dict[str, str]:
    """ENV KEY=VALUE pairs of one stage."""
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV" and instruction.stage == stage:
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                values[key] = value
    return values
