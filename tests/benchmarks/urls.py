"""No URLs: the benchmarks serve no requests (tests.api_urls needs the API integrations)."""

urlpatterns: list[object] = []
