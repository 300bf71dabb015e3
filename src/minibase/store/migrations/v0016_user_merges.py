"""The record of account merges (minibase.auth.merges): which account went into which, when,
with which platform identities, for the admin's merge history; and the indexes that find a
user by an openid or a unionid alone (the admin's search), which `(platform, appid, openid)`
and `(platform, unionid)` could not serve without the platform."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 16
NAME = "user_merges"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    return [
        # no foreign keys: the source is deleted by the merge, and the target may be merged
        # away in turn (its history then follows it); an admin's delete forgets the history
        f"""CREATE TABLE user_merges (
            source_user_id TEXT PRIMARY KEY,
            target_user_id TEXT NOT NULL,
            merged_at TEXT NOT NULL,
            identities {json} NOT NULL,
            records INTEGER NOT NULL)""",
        "CREATE INDEX user_merges_target ON user_merges (target_user_id)",
        "CREATE INDEX user_identities_openid ON user_identities (openid)",
        # unionid first: the login's lookup gives both, the admin's search the unionid alone
        "DROP INDEX user_identities_union",
        "CREATE INDEX user_identities_unionid ON user_identities (unionid, platform)",
    ]
