"""Backups of the embedded installation (SQLite): `minibase backup`, `minibase restore` and the
scheduled backup job.

A backup is one tar file, `minibase-backup-<UTC time>.tar`, holding:
- `manifest.json`: when it was made, by which minibase, the schema version of its database;
- `data.db`: the database, copied with SQLite's online backup API (a snapshot of one moment,
  taken while the server keeps writing), then checked (`PRAGMA integrity_check`);
- `master.key`: the data directory's key file, when the key lives there (not when it comes from
  MINIBASE_MASTER_KEY): without it the database's sealed secrets cannot be read;
- `files/`: the files of local storage (with S3 storage the files stay in their bucket).

`archive.py` makes and reads the file, `restore.py` puts one back, `destinations.py` keeps them
in a folder or under an S3 prefix, `schedule.py` runs the periodic backup with its retention.
PostgreSQL installations use pg_dump and pg_restore (docs/backups.md).
"""
