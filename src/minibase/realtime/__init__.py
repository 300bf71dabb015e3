"""Realtime: clients watch queries over one WebSocket each and receive every committed change
that matches, as their rules let them see it (see docs/realtime.md)."""
