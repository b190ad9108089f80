"""The transports of an Engine.IO session: HTTP long-polling and WebSocket."""
