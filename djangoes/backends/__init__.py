"""Backends: one object per configured server, wrapping a client."""
