"""The ASGI application: ``uvicorn site_config.asgi:application`` serves the site, async views
(such as ``/api/search/``) on the event loop."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")

application = get_asgi_application()
