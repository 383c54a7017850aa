"""A container build context for one model version (the seed's 3.2: versioned environments and
containers): the artifact, the serving entrypoint with the model code it imports, a requirements file
pinned to the environment the version was trained in (and that environment's whole lock beside it), a
Dockerfile, Kubernetes manifests checked against the API's schema, a CycloneDX SBOM of that environment
and a static security scan (bandit) of the serving code. No image is built here: the context builds as is.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.errors import BadInput, ConsoleError
from core.types import ModelVersion

HERE = Path(__file__).resolve().parent
CORE = HERE.parent
# what the entrypoint imports, copied beside it (paths under core/)
VENDORED = (
    "__init__.py",
    "errors.py",
    "artifacts.py",
    "lifecycle/__init__.py",
    "lifecycle/nets.py",
    "lifecycle/train.py",
    "lifecycle/data.py",
)
SERVING_REQUIREMENTS = ("torch", "numpy")
KUBERNETES_VERSION = "1.32"
PORT = 8080
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _name(model: str, version: int) -> str:
    """A DNS-1035 label for the objects: lower-case, digits, '-', at most 63."""
    return re.sub(r"[^a-z0-9-]", "-", f"{model}-v{version}".lower()).strip("-")[:63]


def requirements(mv: ModelVersion) -> list[str]:
    lock = {line.split("==")[0].lower(): line for line in mv.environment.get("lock", [])}
    missing = [r for r in SERVING_REQUIREMENTS if r not in lock]
    if missing:
        raise BadInput(f"{mv.model}:{mv.version}: its environment records no {', '.join(missing)} version to pin")
    return [lock[r] for r in SERVING_REQUIREMENTS]


def dockerfile(mv: ModelVersion) -> str:
    return f"""# {mv.model} version {mv.version} — sha256 {mv.sha256}
FROM python:{mv.environment.get("python", "3.11")}-slim
WORKDIR /srv
COPY requirements.txt .
RUN pip install --no-cache-dir --extra-index-url {TORCH_CPU_INDEX} -r requirements.txt
COPY core/ core/
COPY serve.py model.pt ./
ENV MODEL_PATH=/srv/model.pt MODEL_SHA256={mv.sha256} PORT={PORT}
USER 10001
EXPOSE {PORT}
CMD ["python", "serve.py"]
"""


def manifests(mv: ModelVersion, image: str, namespace: str, resources: dict[str, Any]) -> list[dict[str, Any]]:
    name = _name(mv.model, mv.version)
    labels = {
        "app.kubernetes.io/name": _name(mv.model, 0)[:-3],
        "mlops-console/model": mv.model,
        "mlops-console/version": str(mv.version),
    }
    probe = {"httpGet": {"path": "/healthz", "port": PORT}, "periodSeconds": 10}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {"mlops-console/sha256": mv.sha256},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [
                        {
                            "name": "model",
                            "image": image,
                            "ports": [{"containerPort": PORT, "name": "http"}],
                            "resources": resources,
                            "readinessProbe": probe,
                            "livenessProbe": {**probe, "initialDelaySeconds": 10},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return [deployment, service]


def validate_manifests(docs: list[dict[str, Any]]) -> list[str]:
    """Problems of the manifests against the Kubernetes API's schema (kubernetes-validate, strict: an
    unknown field is one)."""
    import kubernetes_validate  # type: ignore[import-untyped]

    problems = []
    for d in docs:
        try:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{d['kind']}/{d['metadata']['name']}: {e.message}")
    return problems


def sbom(out: Path) -> None:
    """CycloneDX JSON of the environment this console (and the version's training) runs in."""
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cyclonedx_py",
            "environment",
            "--output-format",
            "JSON",
            "-o",
            str(out),
            sys.executable,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode != 0:
        raise ConsoleError(
            f"the SBOM could not be made (cyclonedx-py): {r.stderr.strip().splitlines()[-1:] or r.returncode}"
        )


def scan(context: Path, out: Path) -> dict[str, Any]:
    """bandit over the serving code; its JSON report written to `out`; counts by severity."""
    r = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", "-q", "-f", "json", "-o", str(out), "serve.py", "core"],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode not in (0, 1) or not out.exists():  # 1: findings
        raise ConsoleError(f"the security scan could not run (bandit): {r.stderr.strip()[-200:]}")
    report = json.loads(out.read_text())
    counts = {s: 0 for s in ("HIGH", "MEDIUM", "LOW")}
    for f in report.get("results", []):
        counts[f["issue_severity"]] = counts.get(f["issue_severity"], 0) + 1
    return counts


def _plain_dumper() -> Any:
    import yaml  # type: ignore[import-untyped]

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:  # labels written out where used, not &id001 / *id001
            return True

    return Dumper


def write(
    mv: ModelVersion, artifact: Path, out: Path, image: str, namespace: str, resources: dict[str, Any]
) -> dict[str, Any]:
    """The build context in `out` (which must be empty or absent); a summary of what it holds and found.
    Written in a sibling directory and renamed at the end: a failure leaves no half-made package."""
    import os
    import tempfile

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"{out}: exists and is not an empty directory; package into a new one")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        work.chmod(0o755)  # a build context others read, not mkdtemp's private 0700
    except OSError as e:
        raise BadInput(f"{out}: cannot be made here ({e.strerror})") from None
    try:
        summary = _fill(work, mv, artifact, image, namespace, resources)
        summary["directory"] = str(out)
        (work / "package.json").write_text(json.dumps(summary, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return summary


def _fill(
    out: Path, mv: ModelVersion, artifact: Path, image: str, namespace: str, resources: dict[str, Any]
) -> dict[str, Any]:
    import yaml

    shutil.copyfile(artifact, out / "model.pt")
    shutil.copyfile(HERE / "serving" / "serve.py", out / "serve.py")
    for rel in VENDORED:
        (out / "core" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORE / rel, out / "core" / rel)
    (out / "requirements.txt").write_text("\n".join(requirements(mv)) + "\n")
    (out / "requirements.lock").write_text("\n".join(mv.environment.get("lock", [])) + "\n")
    (out / "Dockerfile").write_text(dockerfile(mv))
    (out / ".dockerignore").write_text("k8s/\nsbom.cdx.json\nbandit.json\npackage.json\n")
    docs = manifests(mv, image, namespace, resources)
    (out / "k8s").mkdir()
    for d in docs:
        (out / "k8s" / f"{d['kind'].lower()}.yaml").write_text(yaml.dump(d, Dumper=_plain_dumper(), sort_keys=False))
    problems = validate_manifests(docs)
    sbom(out / "sbom.cdx.json")
    findings = scan(out, out / "bandit.json")
    return {
        "model": mv.model,
        "version": mv.version,
        "sha256": mv.sha256,
        "image": image,
        "files": sorted([*(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()), "package.json"]),
        "manifests": {"kubernetes": KUBERNETES_VERSION, "valid": not problems, "problems": problems},
        "sbom_components": len(json.loads((out / "sbom.cdx.json").read_text()).get("components", [])),
        "security_findings": findings,
    }


def check(out: Path, mv: ModelVersion) -> list[tuple[str, bool, str]]:
    """The gate's checks of a packaged context, made again from its files (not read from its summary, which
    anyone could edit): it holds this version's artifact, its manifests validate, its SBOM lists the
    environment's components, and a fresh scan of its serving code finds nothing of high or medium severity."""
    import hashlib
    import tempfile

    import yaml

    try:
        artifact = hashlib.sha256((out / "model.pt").read_bytes()).hexdigest()
        docs = [yaml.safe_load(p.read_text()) for p in sorted((out / "k8s").glob("*.yaml"))]
        components = len(json.loads((out / "sbom.cdx.json").read_text()).get("components", []))
    except (OSError, ValueError, yaml.YAMLError, AttributeError) as e:
        return [("package", False, f"{out}: not a package `models package` wrote ({type(e).__name__}: {e})")]
    if not docs or not all(isinstance(d, dict) and isinstance(d.get("metadata"), dict) for d in docs):
        return [("package", False, f"{out}/k8s: no Kubernetes objects to check")]
    problems = validate_manifests(docs)
    with tempfile.TemporaryDirectory() as tmp:
        found = scan(out, Path(tmp) / "bandit.json")
    serious = found.get("HIGH", 0) + found.get("MEDIUM", 0)
    same = artifact == mv.sha256
    return [
        (
            "package artifact",
            same,
            f"model.pt sha256 {artifact[:12]}… "
            + ("is the version's" if same else f"is not the version's {mv.sha256[:12]}…"),
        ),
        (
            "manifests",
            not problems,
            f"{len(docs)} valid against Kubernetes {KUBERNETES_VERSION}" if not problems else "; ".join(problems),
        ),
        ("sbom", components > 0, f"{components} components (CycloneDX)"),
        (
            "security scan",
            serious == 0,
            f"bandit: {found.get('HIGH', 0)} high, {found.get('MEDIUM', 0)} medium, {found.get('LOW', 0)} low",
        ),
    ]
