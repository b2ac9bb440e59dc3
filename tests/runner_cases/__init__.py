"""Test cases run by tests/test_dsl_runner.py in a child `django test` process (not by pytest)."""
