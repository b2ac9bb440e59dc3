"""Browser tests: the example site served by pytest-django's live_server, driven in headless
Chromium (Debian's chromium and chromium-driver; install them with scripts/install-chromium).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
]
# Screenshots land in <repo>/artifacts (gitignored; CI keeps them).
ARTIFACTS = Path(
    os.environ.get("DJANGOES_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")
)
SAMPLE_BOOKS = 240


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session, with a fresh profile."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: the browser tests need Debian's chromium and "
            f"chromium-driver. Install them with scripts/install-chromium.",
            pytrace=False,
        )
    profile = tempfile.mkdtemp(prefix="djangoes-e2e-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, live_server):
    """The browser, logged out, with ``page.url(path)`` and ``page.wait``."""
    browser.delete_all_cookies()
    browser.url = lambda path="/": f"{live_server.url}{path}"
    browser.wait = WebDriverWait(browser, 15)
    return browser


@pytest.fixture
def catalogue(transactional_db):
    """A generated catalogue in the database and, rebuilt from it, in the test index."""
    call_command(
        "load_sample_data", "--books", str(SAMPLE_BOOKS), "--authors", "30", stdout=StringIO()
    )


@pytest.fixture
def asgi_server(transactional_db):
    """The site served by uvicorn (ASGI) in a thread of this process, on a free port of its
    own: the same database and test indices as the test. Yields its base URL."""
    import socket
    import threading

    import uvicorn

    from site_config.asgi import application

    ready = threading.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            ready.set()  # accepting connections

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = Server(uvicorn.Config(application, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert ready.wait(timeout=60), "uvicorn did not start"
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
