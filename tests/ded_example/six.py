"""What the example project's models import from six: a no-op on Python 3."""


def python_2_unicode_compatible(klass):
    """Return ``klass`` unchanged (``__str__`` is already text on Python 3)."""
    return klass
