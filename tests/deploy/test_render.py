"""deploy/render.py renders like kustomize for the features it implements, and refuses the others.

fixtures/kustomize/expected.yaml is kustomize's own output (`kubectl kustomize overlay` in
fixtures/kustomize, kubectl v1.32.4 with kustomize v5.5.0): regenerate it the same way after changing the
fixture, never by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy.render import RenderError, render

FIXTURE = Path(__file__).parent / "fixtures" / "kustomize"


def test_renders_the_fixture_exactly_as_kustomize_does():
    expected = [d for d in yaml.safe_load_all((FIXTURE / "expected.yaml").read_text()) if d]

    assert render(FIXTURE / "overlay") == expected


def test_generated_names_carry_kustomizes_content_hash():
    names = {r["metadata"]["name"] for r in render(FIXTURE / "overlay") if r["kind"] == "ConfigMap"}

    # hashes computed by kustomize v5.5.0 for this content (see expected.yaml)
    assert {"settings-9d5mtgkbt7", "files-4f562f7dc2", "replaced-td79h8c7k2"} <= names


def test_refuses_a_kustomization_field_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("namePrefix: x-\nresources: []\n")

    with pytest.raises(RenderError, match="namePrefix"):
        render(tmp_path)


def test_refuses_patch_directives(tmp_path):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {a: b}\n")
    (tmp_path / "patch.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n$patch: delete\n"
    )
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\npatches:\n  - path: patch.yaml\n")

    with pytest.raises(RenderError, match="directives"):
        render(tmp_path)


def test_refuses_a_patch_that_matches_nothing(tmp_path):
    (tmp_path / "patch.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: missing\n")
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches:\n  - path: patch.yaml\n")

    with pytest.raises(RenderError, match="0 resources match"):
        render(tmp_path)


def test_refuses_merging_into_a_configmap_that_was_not_generated(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "configMapGenerator:\n  - name: c\n    behavior: merge\n    literals: [a=b]\n"
    )

    with pytest.raises(RenderError, match="no generated ConfigMap c"):
        render(tmp_path)
