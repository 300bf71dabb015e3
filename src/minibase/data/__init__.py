"""The data API: collections (admin) and records (clients), with access rules applied."""
