"""The built-in HTTP/1.1 + WebSocket server: the fast path, no ASGI hop."""
