"""django-elasticsearch-dsl's ``DEDConfig`` settings readers (the app itself is
``djangoes_dsl``: put it in INSTALLED_APPS)."""

from __future__ import annotations

from typing import Any

from . import conf

__all__ = ["DEDConfig"]


class DEDConfig:
    """The class methods django-elasticsearch-dsl's app config offers."""

    @classmethod
    def autosync_enabled(cls) -> bool:
        return conf.autosync_enabled()

    @classmethod
    def default_index_settings(cls) -> dict[str, Any]:
        return conf.default_index_settings()

    @classmethod
    def auto_refresh_enabled(cls) -> bool:
        return conf.auto_refresh_enabled()
