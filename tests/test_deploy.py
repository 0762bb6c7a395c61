"""deploy/: the Kubernetes manifests against the real API schemas, and what they promise.

No cluster and no Docker engine here: kubernetes-validate ships the OpenAPI schemas of each
Kubernetes release and checks every document offline (strict: unknown fields are errors).
Then the settings that make drain and scaling work are checked against the flags they pair
with, and the Dockerfile's promises (non-root, default command, no run-time downloads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from flux_cli.server.capacity import default_max_streams, default_workers
from flux_cli.server.service import ServeOptions

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S_VERSION = "1.30.0"


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, Any]:
    found = [d for d in documents() if d["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_a_broken_manifest_is_caught() -> None:
    """The validator really looks: a probe with a misspelt field fails."""
    deployment = by_kind("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def serve_flags(args: list[str]) -> dict[str, str]:
    assert args[:2] == ["flux", "serve"]
    return dict(zip(args[2::2], args[3::2], strict=True))


def test_probes_drain_and_grace_period_fit_together() -> None:
    pod = by_kind("Deployment")["spec"]["template"]
    container = pod["spec"]["containers"][0]
    flags = serve_flags(container["args"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    drain = float(flags["--drain-timeout"])
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["spec"]["terminationGracePeriodSeconds"] >= pre_stop + drain
    assert flags["--host"] == "0.0.0.0"
    port = int(flags["--port"])
    assert container["ports"][0]["containerPort"] == port
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port
    assert annotations["prometheus.io/path"] == "/metrics"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    # the flags are ones flux serve accepts, with values it accepts
    ServeOptions(host=flags["--host"], port=port, drain_timeout_s=drain,
                 workers=int(flags["--workers"]), max_streams=int(flags["--max-streams"])).check()
    # flux serve's own defaults for the CPUs requested (its affinity would see the node's), on
    # nodes with VNNI (the manifest's comment says what to set on AVX2-only nodes)
    cpus = int(container["resources"]["requests"]["cpu"])
    assert int(flags["--workers"]) == default_workers(cpus)
    assert int(flags["--max-streams"]) == default_max_streams(cpus, slow_int8=False)


def test_service_and_autoscaler_point_at_the_deployment() -> None:
    deployment, service = by_kind("Deployment"), by_kind("Service")
    hpa = by_kind("HorizontalPodAutoscaler")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in service["spec"]["selector"].items())
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2


def test_dockerfile_runs_as_non_root_with_the_default_command() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == 'CMD ["flux", "serve", "--host", "0.0.0.0"]'
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "HF_HUB_OFFLINE=1" in text  # models come from the wheels, never from a hub
    assert "load_engine()" in text  # ... and the build proves they load
