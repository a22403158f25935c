# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Validation of rendered objects, shared by the tests and the doc-command
shims (deploy/tests/doc_shims): each object against its schema (core kinds:
kubernetes-validate's bundled OpenAPI schemas, strictly; the
prometheus-operator CRDs, which it does not bundle: deploy/tests/schemas/),
then the API server's own rules (apirules.py)."""
import json
from pathlib import Path

from apirules import object_problems, release_problems

SCHEMAS = Path(__file__).resolve().parent / "schemas"
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


class Invalid(ValueError):
    pass


def validate_object(obj, version):
    where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    if obj["kind"] in CRD_KINDS:
        import jsonschema
        schema = json.loads((SCHEMAS / f"{obj['kind'].lower()}.json").read_text())
        try:
            jsonschema.validate(obj, schema)
        except jsonschema.ValidationError as e:
            raise Invalid(f"{where}: {e.message} at {'/'.join(map(str, e.absolute_path))}") from e
        return
    import kubernetes_validate
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        raise Invalid(f"{where} (Kubernetes {version}): {e}") from e


def validate_release(docs, version):
    """Raises Invalid (or the schema library's error) naming every problem."""
    problems = []
    for obj in docs:
        validate_object(obj, version)
        problems += object_problems(obj)
    problems += release_problems(docs)
    if problems:
        raise Invalid("\n".join(problems))
