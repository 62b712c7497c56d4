"""deploy/k8s against the Kubernetes schemas (kubernetes-validate, strict) and against the app:
probe paths, ports and setting names exist, grace periods outlast SHUTDOWN_GRACE_S, and KEDA's
stream and group names are the ones the app's settings give. The custom resources (KEDA,
ServiceMonitor), which no schema here covers, are checked field by field."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dtq.api.main import create_app
from dtq.api.routes import feed
from dtq.config import Settings
from dtq.models import PRIORITY_ORDER
from dtq.queue import Keys
from tests.conftest import ROOT

K8S = ROOT / "deploy" / "k8s"
BUILT_IN = {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
            "NetworkPolicy", "Secret"}  # fmt: skip


def _docs() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / "base" / name).read_text()) if d]
    return docs


def _kind(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in _docs() if d["kind"] == kind and d["metadata"]["name"] == name)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("doc", [d for d in _docs() if d["kind"] in BUILT_IN],
                         ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")  # fmt: skip
def test_manifests_match_the_kubernetes_schemas(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_kustomizations_name_files_that_exist() -> None:
    base = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    assert all((K8S / "base" / name).exists() for name in base["resources"])
    prod = yaml.safe_load((K8S / "overlays" / "production" / "kustomization.yaml").read_text())
    assert prod["resources"] == ["../../base"]
    targets = {(p["target"]["kind"], p["target"]["name"]) for p in prod["patches"]}
    assert all(any(d["kind"] == k and d["metadata"]["name"] == n for d in _docs())
               for k, n in targets)  # fmt: skip


def test_probes_ports_and_settings_exist_in_the_app() -> None:
    app = create_app(Settings(REDIS_URL="redis://127.0.0.1:1/0"))
    routes = set(app.openapi()["paths"]) | {r.path for r in feed.router.routes}  # type: ignore[attr-defined]
    grace = Settings().SHUTDOWN_GRACE_S
    api = _kind("Deployment", "dtq-api")["spec"]["template"]["spec"]
    (container,) = api["containers"]
    env = _env(container)
    assert set(env) <= set(Settings.model_fields)
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready" in routes
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live" in routes
    assert container["ports"][0]["containerPort"] == int(env["PORT"])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert api["terminationGracePeriodSeconds"] > pre_stop + float(env["SHUTDOWN_GRACE_S"])
    assert _kind("Deployment", "dtq-api")["spec"]["replicas"] >= 2
    worker = _kind("Deployment", "dtq-worker")["spec"]["template"]["spec"]
    (container,) = worker["containers"]
    env = _env(container)
    assert set(env) <= set(Settings.model_fields)
    assert worker["terminationGracePeriodSeconds"] > grace
    assert container["ports"][0]["containerPort"] == int(env["WORKER_METRICS_PORT"])
    assert container["livenessProbe"]["exec"]["command"] == ["python", "-m", "dtq.worker.health"]
    secret_keys = set(_kind("Secret", "dtq")["stringData"])
    containers = [_kind("Deployment", d)["spec"]["template"]["spec"]["containers"][0]
                  for d in ("dtq-api", "dtq-worker")]  # fmt: skip
    refs = [v["secretKeyRef"]["key"] for c in containers for v in _env(c).values()
            if isinstance(v, dict)]  # fmt: skip
    assert set(refs) <= secret_keys


def test_keda_scales_workers_on_the_apps_streams() -> None:
    settings = Settings()
    keys = Keys.from_settings(settings)
    scaled = _kind("ScaledObject", "dtq-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "dtq-worker"
    assert scaled["spec"]["minReplicaCount"] == 0  # from zero: activationLagCount
    triggers = scaled["spec"]["triggers"]
    assert [t["metadata"]["stream"] for t in triggers] == [
        keys.stream_for(p) for p in PRIORITY_ORDER
    ]
    for t in triggers:
        assert t["type"] == "redis-streams"
        assert t["metadata"]["consumerGroup"] == settings.CONSUMER_GROUP
        assert {"lagCount", "activationLagCount", "pendingEntriesCount"} <= set(t["metadata"])
        assert t["authenticationRef"]["name"] == "dtq-redis"
    auth = _kind("TriggerAuthentication", "dtq-redis")
    secret_keys = set(_kind("Secret", "dtq")["stringData"])
    assert {r["key"] for r in auth["spec"]["secretTargetRef"]} <= secret_keys
    monitor = _kind("ServiceMonitor", "dtq")
    ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    service_ports = {
        p["name"] for d in _docs() if d["kind"] == "Service" for p in d["spec"]["ports"]
    }
    assert ports <= service_ports


def test_kubernetes_validate_command_passes() -> None:
    files = [str(K8S / "base" / f) for f in ("api.yaml", "worker.yaml", "networkpolicy.yaml",
                                             "secret.yaml")]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", *files],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
