from django.db import migrations


def create_default(apps, schema_editor):
    ModelVersion = apps.get_model("generation", "ModelVersion")
    # Empty endpoint: follows MODEL_BASE_URL / MODEL_NAME from the environment (the offline server
    # by default), so pointing Kiln at vLLM needs no data change.
    ModelVersion.objects.get_or_create(
        name="default",
        defaults={"backend": "openai", "endpoint": "", "base_model": "", "weight": 1, "is_active": True},
    )


class Migration(migrations.Migration):
    dependencies = [("generation", "0001_initial")]
    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
