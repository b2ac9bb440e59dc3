"""System checks: each django-elasticsearch-dsl setting in use, with its djangoes equivalent."""

from __future__ import annotations

from typing import Any

from django.core import checks

from . import conf


@checks.register(checks.Tags.compatibility)
def check_ded_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn for each django-elasticsearch-dsl setting the project still sets."""
    return [
        checks.Warning(
            f"{name} is a django-elasticsearch-dsl setting; djangoes_dsl.compat honours it "
            f"while djangoes' own is absent.",
            hint=f"Use {conf.DED_SETTINGS[name]} instead.",
            id="djangoes_dsl.W050",
        )
        for name in conf.used_settings()
    ]
