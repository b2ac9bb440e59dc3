"""Test support: test index names, test indices created and destroyed around tests, each
test's documents undone after it."""

from .runner import DiscoverRunner
from .testcases import SimpleTestCase, TestCase, TransactionTestCase
from .undo import TestScope, keep_documents
from .utils import create_test_indices, destroy_test_indices, setup_djangoes, teardown_djangoes

__all__ = [
    "DiscoverRunner",
    "SimpleTestCase",
    "TestCase",
    "TestScope",
    "TransactionTestCase",
    "create_test_indices",
    "destroy_test_indices",
    "keep_documents",
    "setup_djangoes",
    "teardown_djangoes",
]
