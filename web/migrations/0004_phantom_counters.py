from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_known_devices')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PhantomCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('fingerprint', fields.CharField(unique=True, max_length=64)),
                ('password_failures', fields.IntField(default=0)),
                ('password_blocked_until', fields.FloatField(default=0)),
            ],
            options={'table': 'phantom_counters', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The password counter of a name that has no account, so throttling cannot tell names apart.'},
            bases=['Model'],
        ),
    ]
