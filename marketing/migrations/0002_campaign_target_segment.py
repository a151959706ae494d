"""The campaign's free-text audience keeps its text under its own name; `target_segment` becomes a reference to
one of the merchant's customer segments (profiles.Segment)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0001_initial"),
        ("profiles", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="campaign", old_name="target_segment", new_name="audience"),
        migrations.AddField(
            model_name="campaign",
            name="target_segment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="campaigns",
                to="profiles.segment",
            ),
        ),
    ]
