"""Test cases run by tests/test_test_isolation.py in child `django test` processes."""
