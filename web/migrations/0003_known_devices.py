from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_accounts_admin_throttle')]

    initial = False

    operations = [
        ops.CreateModel(
            name='KnownDevice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='known_devices', on_delete=OnDelete.CASCADE)),
                ('fingerprint', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('password_failures', fields.IntField(default=0)),
                ('password_blocked_until', fields.FloatField(default=0)),
            ],
            options={'table': 'known_devices', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A browser that completed a full sign-in, remembered by a long-lived cookie (stored hashed).'},
            bases=['Model'],
        ),
    ]
