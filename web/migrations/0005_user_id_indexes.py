from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_phantom_counters')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='KnownDevice',
            index=Index(fields=['user_id'], name='known_devices_user_id'),
        ),
        ops.AddIndex(
            model_name='RecoveryCode',
            index=Index(fields=['user_id'], name='recovery_codes_user_id'),
        ),
    ]
