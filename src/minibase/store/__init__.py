"""The store: database engines, system tables and migrations, collections, the query compiler."""
