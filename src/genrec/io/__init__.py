"""The neutral home of file IO: atomic writes and JSON reading shared by every layer (see docs/architecture.md)."""
