# A hand edit (builder.edits) is a generation of its own, like a restore: no model call.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0007_model_version_own_models'),
    ]

    operations = [
        migrations.AlterField(
            model_name='generation',
            name='kind',
            field=models.CharField(choices=[('first', 'first answer'), ('regenerate', 'Regenerate'), ('compare', 'side-by-side candidate'), ('repair', 'repair of a failed build'), ('restore', 'restore of an earlier version'), ('edit', 'hand edit')], default='first', max_length=12),
        ),
    ]
