"""Adapters: the only places where djangoes reaches into libraries' private APIs.

One module per library. Each says why a public API does not do, and
``tests/test_adapters.py`` fails loudly when a supported version changes what it relies on.
"""
