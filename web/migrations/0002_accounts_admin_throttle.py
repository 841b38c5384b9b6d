from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('action', fields.CharField(db_index=True, max_length=40)),
                ('outcome', fields.CharField(default='success', max_length=16)),
                ('actor', fields.CharField(null=True, max_length=64)),
                ('target', fields.CharField(null=True, db_index=True, max_length=64)),
                ('client_address', fields.CharField(null=True, max_length=64)),
                ('via', fields.CharField(default='web', max_length=8)),
                ('reason', fields.CharField(null=True, max_length=500)),
            ],
            options={'table': 'audit_events', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One security-relevant event: who did what to whom, from where, and why. Never a secret.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PolicySetting',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('value', fields.CharField(max_length=255)),
            ],
            options={'table': 'policy_settings', 'app': 'models', 'pk_attr': 'key', 'table_description': 'A deployment-wide switch an admin can change, e.g. whether 2FA is required for all users.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='locked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='must_change_password',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='User',
            name='password_blocked_until',
            field=fields.FloatField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='password_failures',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='second_factor_blocked_until',
            field=fields.FloatField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='second_factor_failures',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='two_factor_changed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='two_factor_changed_by_admin',
            field=fields.CharField(null=True, max_length=16),
        ),
    ]
