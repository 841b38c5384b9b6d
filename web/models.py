"""Database models. Schema changes go through migrations in web/migrations/ (``python -m web migrate``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

USERNAME_MAX_CHARS = 64


class User(Model):
    """An account: password, optional authenticator, role and the counters that guard it."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=USERNAME_MAX_CHARS, unique=True)
    password_hash = fields.CharField(max_length=255)
    is_admin = fields.BooleanField(default=False)
    is_disabled = fields.BooleanField(default=False)
    # The TOTP secret, AES-GCM sealed with the settings key; its key id sits beside it.
    totp_secret_sealed = fields.BinaryField(null=True)
    totp_key_id = fields.CharField(max_length=16, null=True)
    totp_enabled_at = fields.DatetimeField(null=True)
    # Highest time step ever accepted: a code is accepted only for a later step (single use).
    totp_last_step = fields.BigIntField(default=0)
    totp_exempt = fields.BooleanField(default=False)
    # Copied into each session; bumping it ends every session of this user at their next request.
    auth_epoch = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sign_in_at = fields.DatetimeField(null=True)
    # Set by an admin password reset: the next sign-in must choose a new password first.
    must_change_password = fields.BooleanField(default=False, db_default=False)
    # What an admin last did to the user's 2FA ("reset" or "revoke") and when: told at next sign-in.
    two_factor_changed_by_admin = fields.CharField(max_length=16, null=True)
    two_factor_changed_at = fields.DatetimeField(null=True)
    # Columns added after 0001 carry db_default so existing rows get a value in the migration.
    # Per-account throttling, shared by every session, address and instance (updated atomically).
    password_failures = fields.IntField(default=0, db_default=0)
    password_blocked_until = fields.FloatField(default=0, db_default=0)
    second_factor_failures = fields.IntField(default=0, db_default=0)
    second_factor_blocked_until = fields.FloatField(default=0, db_default=0)
    # Set when a counter reaches its hard limit: only an admin's Unlock clears it.
    locked_at = fields.DatetimeField(null=True)

    recovery_codes: fields.ReverseRelation[RecoveryCode]

    class Meta:
        table = "users"

    @property
    def has_totp(self) -> bool:
        return self.totp_secret_sealed is not None


class RecoveryCode(Model):
    """One single-use recovery code, stored as a keyed hash."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    fingerprint = fields.CharField(max_length=64, db_index=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_codes"
        indexes = [Index(fields=("user_id",), name="recovery_codes_user_id")]  # a user's codes, and ON DELETE CASCADE


class KnownDevice(Model):
    """A browser that completed a full sign-in, remembered by a long-lived cookie (stored hashed).

    Password failures from a known device count on the device's own row, so a burst of wrong
    passwords from elsewhere cannot lock the real user out (OWASP "device cookies").
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="known_devices", on_delete=fields.CASCADE
    )
    fingerprint = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(auto_now_add=True)
    password_failures = fields.IntField(default=0)
    password_blocked_until = fields.FloatField(default=0)

    class Meta:
        table = "known_devices"
        # Every new device counts the user's others (web/auth/devices.py): without this index that
        # count read the whole table on every sign-in from a new browser.
        indexes = [Index(fields=("user_id",), name="known_devices_user_id")]


class PhantomCounter(Model):
    """The password counter of a name that has no account, so throttling cannot tell names apart.

    Like a real account's counter it never expires (only a success resets a real one), keyed by
    a keyed hash of the name. One row per distinct unknown name tried; see the README to prune.
    """

    id = fields.IntField(primary_key=True)
    fingerprint = fields.CharField(max_length=64, unique=True)
    password_failures = fields.IntField(default=0)
    password_blocked_until = fields.FloatField(default=0)

    class Meta:
        table = "phantom_counters"


class AuditEvent(Model):
    """One security-relevant event: who did what to whom, from where, and why. Never a secret."""

    id = fields.IntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    action = fields.CharField(max_length=40, db_index=True)
    outcome = fields.CharField(max_length=16, default="success")
    actor = fields.CharField(max_length=USERNAME_MAX_CHARS, null=True)
    target = fields.CharField(max_length=USERNAME_MAX_CHARS, null=True, db_index=True)
    client_address = fields.CharField(max_length=64, null=True)
    via = fields.CharField(max_length=8, default="web")
    reason = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "audit_events"


class PolicySetting(Model):
    """A deployment-wide switch an admin can change, e.g. whether 2FA is required for all users."""

    key = fields.CharField(max_length=64, primary_key=True)
    value = fields.CharField(max_length=255)

    class Meta:
        table = "policy_settings"


class SetupToken(Model):
    """The one-time first-administrator link, stored as a keyed hash."""

    id = fields.IntField(primary_key=True)
    fingerprint = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "setup_tokens"
