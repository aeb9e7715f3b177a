"""Staff edit model versions in the admin, the default row (which follows the settings) included."""

import pytest

from generation.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_staff_can_save_the_default_model_version(client, staff, settings):
    default = ModelVersion.objects.get(name="default")  # made by the data migration, base_model empty
    client.force_login(staff)
    url = f"/admin/generation/modelversion/{default.id}/change/"
    form = client.get(url)

    response = client.post(url, {
        "name": "default", "backend": "openai", "output_mode": "full", "endpoint": "", "base_model": "",
        "adapter": "", "weight": "3", "is_active": "on",
    })

    assert form.status_code == 200
    assert response.status_code == 302, response.content.decode()[:2000]
    default.refresh_from_db()
    assert default.weight == 3
    assert default.request_model_name == settings.MODEL_NAME
    assert default.base_url == settings.MODEL_BASE_URL


def test_staff_can_add_a_model_version_for_a_vllm_adapter(client, staff):
    client.force_login(staff)

    response = client.post("/admin/generation/modelversion/add/", {
        "name": "kiln-lora-7", "backend": "openai", "endpoint": "http://127.0.0.1:8001/v1",
        "base_model": "Qwen/Qwen2.5-Coder-7B-Instruct", "adapter": "kiln-lora-7", "weight": "1",
        "is_active": "on", "output_mode": "full",
    })

    assert response.status_code == 302
    assert ModelVersion.objects.get(name="kiln-lora-7").request_model_name == "kiln-lora-7"


def test_a_kiln_models_origin_is_shown_and_cannot_be_edited(client, staff):
    base = ModelVersion.objects.create(name="kiln-small", backend="kiln", output_mode="spec", is_active=False,
                                       weight=0, artifact_dir="/srv/models/kiln-small", training={"kind": "base"})
    round_ = ModelVersion.objects.create(name="kiln-small-grpo-1", backend="kiln", output_mode="spec", parent=base,
                                         artifact_dir="/srv/rounds/1", training={"kind": "round", "method": "grpo"})
    client.force_login(staff)
    url = f"/admin/generation/modelversion/{round_.id}/change/"

    page = client.get(url).content.decode()
    assert "/srv/rounds/1" in page and "grpo" in page and 'name="artifact_dir"' not in page

    response = client.post(url, {"name": round_.name, "backend": "kiln", "output_mode": "spec", "endpoint": "",
                                 "base_model": "", "adapter": "", "weight": "5", "is_active": "on",
                                 "artifact_dir": "/etc", "training": "{}"})
    assert response.status_code == 302
    round_.refresh_from_db()
    assert (round_.weight, round_.artifact_dir, round_.training["method"], round_.parent_id) == (
        5, "/srv/rounds/1", "grpo", base.id)
