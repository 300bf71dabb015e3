"""deploy/compose.yaml: valid against the Compose Specification, settings that minibase reads,
and an order of start that makes sense (migrations, then servers and workers, then nginx).
(`docker compose config` needs Docker's compose plugin, which this machine lacks: the
specification's JSON schema stands in for it.)"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.deploy.manifests import DEPLOY, compose, unknown_minibase_variables

SERVICES: dict[str, Any] = compose()["services"]
MINIBASE_SERVICES = ("migrate", "app", "worker")


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = check_jsonschema(
        "--builtin-schema", "vendor.compose-spec", str(DEPLOY / "compose.yaml")
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_specification_check_refuses_a_broken_compose_file(tmp_path: Any) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  app:\n    image: minibase\n    restrat: always\n")
    result = check_jsonschema("--builtin-schema", "vendor.compose-spec", str(broken))
    assert result.returncode != 0


def test_postgresql_redis_an_s3_store_workers_and_nginx_are_all_there() -> None:
    assert {"postgres", "redis", "minio", "bucket", "nginx", *MINIBASE_SERVICES} <= set(SERVICES)


@pytest.mark.parametrize("service", MINIBASE_SERVICES)
def test_every_minibase_variable_a_service_sets_is_a_real_setting(service: str) -> None:
    environment = SERVICES[service]["environment"]
    assert "MINIBASE_DATABASE_URL" in environment
    assert unknown_minibase_variables(environment) == set()


@pytest.mark.parametrize("service", MINIBASE_SERVICES)
def test_every_minibase_service_runs_the_image_with_one_command(service: str) -> None:
    assert SERVICES[service]["command"] == [service if service != "app" else "serve"]
    assert SERVICES[service]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / ".." / SERVICES[service]["build"]["dockerfile"]).is_file()


def test_servers_and_workers_start_only_after_the_migrations_succeeded() -> None:
    for service in ("app", "worker"):
        assert SERVICES[service]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["environment"]["MINIBASE_AUTO_MIGRATE"] == "false"


def test_the_app_runs_several_replicas_and_leaves_jobs_to_the_workers() -> None:
    app, worker = SERVICES["app"], SERVICES["worker"]
    assert app["deploy"]["replicas"] >= 2
    assert app["environment"]["MINIBASE_RUN_JOBS"] == "false"
    assert "MINIBASE_RUN_JOBS" not in worker["environment"]  # `minibase worker` runs them


def test_every_instance_shares_one_master_key_database_cache_and_bucket() -> None:
    environments = [SERVICES[name]["environment"] for name in MINIBASE_SERVICES]
    for name in (
        "MINIBASE_MASTER_KEY",
        "MINIBASE_DATABASE_URL",
        "MINIBASE_CACHE_URL",
        "MINIBASE_S3_BUCKET",
    ):
        assert len({environment[name] for environment in environments}) == 1, name
    assert environments[0]["MINIBASE_MASTER_KEY"].startswith("${MINIBASE_MASTER_KEY:?")


def test_nginx_serves_the_config_in_the_repository_and_is_the_trusted_proxy() -> None:
    nginx = SERVICES["nginx"]
    (mount,) = nginx["volumes"]
    source, target, mode = mount.split(":")
    assert (DEPLOY / source).is_file()
    assert target == "/etc/nginx/conf.d/default.conf"
    assert mode == "ro"
    address = nginx["networks"]["backend"]["ipv4_address"]
    assert SERVICES["app"]["environment"]["MINIBASE_TRUSTED_PROXIES"] == address
    assert "server app:8080" in (DEPLOY / source).read_text()


def test_every_image_names_a_version() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag, name
        assert "latest" not in tag, name


def test_every_named_volume_and_network_is_declared() -> None:
    document = compose()
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith("."):
                assert source in document["volumes"], (name, source)
        networks = service.get("networks", [])
        for network in networks if isinstance(networks, list) else networks.keys():
            assert network in document["networks"], (name, network)
