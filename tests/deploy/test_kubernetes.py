"""deploy/k8s: every manifest valid against the Kubernetes API's schemas (kubernetes-validate,
which ships them), assembled by `kubectl kustomize`, and consistent with itself, the image and
the settings. (No cluster here: nothing is applied; docs/deploy.md says so.)"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from minibase.app import endpoints
from minibase.config import Settings, load_settings
from tests.deploy.manifests import (
    K8S,
    dockerfile_env,
    dockerfile_instructions,
    kubernetes_documents,
    kubernetes_object,
    kubernetes_objects,
    unknown_minibase_variables,
)

KUBERNETES_VERSION = "1.31.0"
DOCUMENTS = kubernetes_documents()
POD_SPECS = {
    "Deployment/minibase": kubernetes_object("Deployment", "minibase")["spec"]["template"]["spec"],
    "Deployment/minibase-worker": kubernetes_object("Deployment", "minibase-worker")["spec"][
        "template"
    ]["spec"],
    "Job/minibase-migrate": kubernetes_object("Job", "minibase-migrate")["spec"]["template"][
        "spec"
    ],
}


@pytest.mark.parametrize(
    "document",
    [document for _, document in DOCUMENTS],
    ids=[f"{path.name}:{doc['kind']}/{doc['metadata']['name']}" for path, doc in DOCUMENTS],
)
def test_every_manifest_is_valid_against_the_kubernetes_schema(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    broken = yaml.safe_load((K8S / "deployment.yaml").read_text())
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomize_assembles_the_long_running_part() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    kinds = sorted(
        f"{d['kind']}/{d['metadata']['name']}" for d in yaml.safe_load_all(result.stdout) if d
    )
    assert kinds == [
        "ConfigMap/minibase",
        "ConfigMap/minibase-file",
        "Deployment/minibase",
        "Deployment/minibase-worker",
        "HorizontalPodAutoscaler/minibase",
        "PodDisruptionBudget/minibase",
        "Service/minibase",
    ]


@pytest.mark.parametrize("name", list(POD_SPECS))
def test_every_pod_runs_the_image_as_its_unprivileged_user(name: str) -> None:
    spec = POD_SPECS[name]
    instructions = dockerfile_instructions()
    (user,) = [i.arguments for i in instructions if i.keyword == "USER"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == int(user.split(":")[0])
    (container,) = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    data_dir = dockerfile_env(instructions, 1)["MINIBASE_DATA_DIR"]
    assert data_dir in [mount["mountPath"] for mount in container["volumeMounts"]]


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("Deployment/minibase", "serve"),
        ("Deployment/minibase-worker", "worker"),
        ("Job/minibase-migrate", "migrate"),
    ],
)
def test_each_workload_runs_its_minibase_command(name: str, command: str) -> None:
    (container,) = POD_SPECS[name]["containers"]
    assert container["args"] == [command]


def test_every_minibase_variable_given_to_a_pod_is_a_real_setting() -> None:
    names: set[str] = set()
    for config_map in kubernetes_objects("ConfigMap"):
        names |= set(config_map["data"])
    names |= set(kubernetes_object("Secret", "minibase")["stringData"])
    for spec in POD_SPECS.values():
        for container in spec["containers"]:
            names |= {variable["name"] for variable in container.get("env", [])}
    assert "MINIBASE_MASTER_KEY" in names
    assert unknown_minibase_variables(names) == set()


def test_the_config_file_reads_its_secrets_from_the_secret() -> None:
    text = kubernetes_object("ConfigMap", "minibase-file")["data"]["minibase.toml"]
    wanted = {
        value
        for table in tomllib.loads(text)["apps"]
        for key, value in table.items()
        if key.endswith("_env")
    }
    secret = set(kubernetes_object("Secret", "minibase")["stringData"])
    assert wanted
    assert wanted <= secret
    assert {name for name in secret if not name.startswith("MINIBASE_")} == wanted


def test_the_config_file_loads_as_settings(tmp_path: Path) -> None:
    path = tmp_path / "minibase.toml"
    path.write_text(kubernetes_object("ConfigMap", "minibase-file")["data"]["minibase.toml"])
    settings = load_settings(environ={}, config_file=path)
    assert [app["platform"] for app in settings.extra["apps"]] == ["wechat"]


def _pod_settings() -> Settings:
    """What a server pod's environment (the ConfigMap and the Secret) makes of the settings."""
    environ = {
        **kubernetes_object("ConfigMap", "minibase")["data"],
        **kubernetes_object("Secret", "minibase")["stringData"],
    }
    return load_settings(environ=environ)


def test_the_settings_a_pod_is_given_load() -> None:
    settings = _pod_settings()
    assert settings.auto_migrate is False
    assert settings.s3_bucket
    assert settings.database_url
    assert settings.cache_url
    assert settings.public_url
    assert settings.trusted_proxies


def test_liveness_asks_an_endpoint_without_the_database_and_readiness_asks_another() -> None:
    (container,) = POD_SPECS["Deployment/minibase"]["containers"]
    live = container["livenessProbe"]["httpGet"]["path"]
    ready = container["readinessProbe"]["httpGet"]["path"]
    assert ("GET", live) in {(e.method, e.path) for e in endpoints()}
    # a database outage must not restart every pod: only readiness asks the database
    assert live == container["startupProbe"]["httpGet"]["path"] == "/api/live"
    assert ready == "/api/ready"
    assert container["livenessProbe"]["httpGet"]["port"] == container["ports"][0]["name"]


def test_a_stopping_pod_drains_then_finishes_its_requests_within_its_grace_period() -> None:
    settings = _pod_settings()
    (container,) = POD_SPECS["Deployment/minibase"]["containers"]
    probe = container["readinessProbe"]
    # unready for longer than the readiness probes take to take it out
    assert settings.shutdown_drain > probe["periodSeconds"] * probe["failureThreshold"]
    grace = POD_SPECS["Deployment/minibase"]["terminationGracePeriodSeconds"]
    assert grace >= settings.shutdown_drain + settings.shutdown_timeout


def test_the_service_pdb_and_autoscaler_point_at_the_server_pods() -> None:
    deployment = kubernetes_object("Deployment", "minibase")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = kubernetes_object("Service", "minibase")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = kubernetes_object("PodDisruptionBudget", "minibase")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = kubernetes_object("HorizontalPodAutoscaler", "minibase")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "minibase",
    }
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"]  # CPU utilisation is a share of it
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["maxUnavailable"]


def test_the_worker_pods_are_not_selected_by_the_service() -> None:
    service = kubernetes_object("Service", "minibase")
    worker = kubernetes_object("Deployment", "minibase-worker")
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= labels.items()
