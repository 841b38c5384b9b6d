"""Domain layer: passwords, TOTP, recovery codes, encryption and the sign-in flow (no web imports)."""
