"""Users, admins, passwords and tokens."""
