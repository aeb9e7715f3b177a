# The default ModelVersion row has an empty base_model (it follows MODEL_NAME from settings), which
# the admin refused to save while the field was required.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("generation", "0004_generation_waiting"),
    ]

    operations = [
        migrations.AlterField(
            model_name="modelversion",
            name="base_model",
            field=models.CharField(
                blank=True, help_text="Model name sent to the endpoint. Empty: MODEL_NAME from settings.",
                max_length=200,
            ),
        ),
        migrations.AlterField(
            model_name="modelversion",
            name="endpoint",
            field=models.CharField(blank=True, help_text="Empty: MODEL_BASE_URL from settings.", max_length=300),
        ),
    ]
