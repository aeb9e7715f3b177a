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
        "name": "default", "backend": "openai", "endpoint": "", "base_model": "", "adapter": "",
        "weight": "3", "is_active": "on",
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
        "is_active": "on",
    })

    assert response.status_code == 302
    assert ModelVersion.objects.get(name="kiln-lora-7").request_model_name == "kiln-lora-7"
