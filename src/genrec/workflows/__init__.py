"""End-to-end workflows behind the CLI commands: evaluate a baseline, fit identifiers, train, the demo.

Each module holds one command as one typed function that the CLI wraps and the Python API shares; they sit
above every model layer (see docs/architecture.md) and write run directories and reports.
"""
