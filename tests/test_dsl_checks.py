"""Every system check fires on a purpose-built bad configuration, with its id and hint."""

import copy

import pytest
from django.conf import settings
from django.core import checks
from django.test import override_settings

from djangoes_dsl import Document, fields, register, registry
from tests.apps.blog.models import Article


def run_checks():
    return [m for m in checks.run_checks(tags=["djangoes"]) if m.id.startswith("djangoes_dsl.")]


@pytest.fixture
def scratch():
    """Register Documents for one test only."""
    added = []

    def add(document_factory, key, using=None):
        document = register(key, using=using)(document_factory())
        added.append(document)
        return document

    yield add
    for document in added:
        registry.unregister(document)


def test_a_good_configuration_yields_no_messages():
    assert run_checks() == []


def test_e001_document_registered_to_an_unknown_index_key(scratch):
    def make():
        class Orphan(Document):
            pass

        return Orphan

    scratch(make, "nonexistent")
    (message,) = run_checks()
    assert message.id == "djangoes_dsl.E001"
    assert "'nonexistent', which is not in ES_INDICES" in message.msg
    assert "Add ES_INDICES['nonexistent']" in message.hint
    assert message.obj.__name__ == "Orphan"


def test_e002_and_w001_index_served_by_no_server(scratch):
    indices = copy.deepcopy(settings.ES_INDICES)
    indices["drafts"] = {"NAME": "djangoes_drafts"}
    with override_settings(ES_INDICES=indices):

        def make():
            class Draft(Document):
                pass

            return Draft

        scratch(make, "drafts")
        messages = {m.id: m for m in run_checks()}
    assert set(messages) == {"djangoes_dsl.E002", "djangoes_dsl.W001"}
    assert "which no server serves" in messages["djangoes_dsl.E002"].msg
    assert "Add 'drafts' to the INDICES" in messages["djangoes_dsl.E002"].hint
    assert "ES_INDICES['drafts'] is served by no server" in messages["djangoes_dsl.W001"].msg


def test_e003_django_fields_names_a_field_the_model_lacks(scratch):
    def make():
        class Bad(Document):
            class Django:
                model = Article
                fields = ["title", "subtitle"]
                kind = "bad_article"  # shares the index with ArticleDocument

        return Bad

    scratch(make, "articles")
    (message,) = run_checks()
    assert message.id == "djangoes_dsl.E003"
    assert "names 'subtitle', which blog.Article does not have" in message.msg
    assert "prepare_subtitle" in message.hint


def test_e004_documents_sharing_an_index_with_conflicting_mappings(scratch):
    def make():
        class Clash(Document):
            title = fields.Integer()

        return Clash

    scratch(make, "articles")
    (message,) = run_checks()
    assert message.id == "djangoes_dsl.E004"
    assert "ArticleDocument" in message.msg
    assert "Clash" in message.msg
    assert "conflicting mappings" in message.msg
    assert message.hint


def test_documents_sharing_an_index_with_agreeing_mappings_share_one_index(scratch):
    def make():
        class Summary(Document):
            title = fields.Text()

        return Summary

    summary = scratch(make, "articles")
    from tests.apps.blog.search_indices import ArticleDocument

    assert run_checks() == []
    assert summary.get_binding().index is ArticleDocument.get_binding().index
    properties = registry.get_index("articles").to_dict()["mappings"]["properties"]
    assert {"title", "body", "published"} <= set(properties)


def test_e005_using_a_server_that_does_not_serve_the_index(scratch):
    servers = copy.deepcopy(settings.ES_SERVERS)
    servers["archive"] = {"HOSTS": servers["default"]["HOSTS"], "INDICES": ["articles"]}
    with override_settings(ES_SERVERS=servers):

        def make():
            class Archived(Document):
                pass

            return Archived

        scratch(make, "products", using="archive")
        (message,) = run_checks()
    assert message.id == "djangoes_dsl.E005"
    assert "using='archive'" in message.msg
    assert "ES_SERVERS['archive'] does not serve the index 'products'" in message.msg


def test_w002_index_served_by_several_servers_without_default():
    servers = {
        "default": {"HOSTS": settings.ES_SERVERS["default"]["HOSTS"], "INDICES": ["products"]},
        "a": {"HOSTS": settings.ES_SERVERS["default"]["HOSTS"], "INDICES": ["articles"]},
        "b": {"HOSTS": settings.ES_SERVERS["default"]["HOSTS"], "INDICES": ["articles"]},
    }
    with override_settings(ES_SERVERS=servers):
        messages = run_checks()
    assert [m.id for m in messages] == ["djangoes_dsl.W002"]
    assert "served by ['a', 'b']; 'a' is used" in messages[0].msg


def test_e000_invalid_settings_are_reported_not_raised():
    with override_settings(ES_SERVERS={"main": {}}):
        (message,) = run_checks()
    assert message.id == "djangoes_dsl.E000"
    assert "You must define a 'default' ElasticSearch server" in message.msg


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("author__name", "Article has no field 'author'"),
        ("title__name", "'title' is not a relation"),
    ],
)
def test_e006_django_lookups_with_a_path_that_does_not_resolve(scratch, path, says):
    def make():
        class Bad(Document):
            class Django:
                model = Article
                fields = ["title"]
                lookups = {"writer": path}
                kind = "bad_article"  # shares the index with ArticleDocument

        return Bad

    scratch(make, "articles")
    (message,) = run_checks()
    assert message.id == "djangoes_dsl.E006"
    assert f"Bad.Django.lookups['writer'] is invalid: '{path}': {says}" in message.msg
    assert "category__name" in message.hint


def hooks_document(**methods):
    """Return a Document factory of Article rows with the given methods."""

    def make():
        django = type("Django", (), {"model": Article, "fields": ["title"], "kind": "hooked"})
        return type("Hooked", (Document,), {"Django": django, **methods})

    return make


def instance_get_queryset(self):
    return Article.objects.all()


def prepare_without_instance(self):
    return "x"


def related_without_argument(cls):
    return []


HOOK_MISTAKES = {
    "get_queryset as an instance method": (
        {"get_queryset": instance_get_queryset},
        "Hooked.get_queryset is an instance method, but djangoes calls it on the class",
        "@classmethod def get_queryset(cls)",
    ),
    "get_queryset with an argument": (
        {"get_queryset": classmethod(lambda cls, request: Article.objects.all())},
        "takes (request), but djangoes calls it with (no arguments)",
        "@classmethod def get_queryset(cls)",
    ),
    "get_instances_from_related without the related row": (
        {"get_instances_from_related": classmethod(related_without_argument)},
        "but djangoes calls it with (related_instance)",
        "@classmethod def get_instances_from_related(cls, related_instance)",
    ),
    "get_instances_from_related as an instance method": (
        {"get_instances_from_related": lambda self, related: []},
        "is an instance method",
        "Decorate it with @classmethod",
    ),
    "prepare_<field> without the instance": (
        {"prepare_title": prepare_without_instance},
        "Hooked.prepare_title takes (self), but djangoes calls it with (instance)",
        "def prepare_title(self, instance)",
    ),
    "prepare without the instance": (
        {"prepare": prepare_without_instance},
        "Hooked.prepare takes (self)",
        "def prepare(self, instance)",
    ),
    "from_instance as an instance method": (
        {"from_instance": lambda self, instance: None},
        "Hooked.from_instance is an instance method",
        "@classmethod def from_instance(cls, instance)",
    ),
    "a hook that is no method": (
        {"get_queryset": "published"},
        "Hooked.get_queryset is 'published', not a method",
        "@classmethod def get_queryset(cls)",
    ),
}


@pytest.mark.parametrize("case", list(HOOK_MISTAKES))
def test_e007_a_hook_djangoes_cannot_call_as_it_does(scratch, case):
    methods, says, fix = HOOK_MISTAKES[case]
    scratch(hooks_document(**methods), "articles")
    (message,) = run_checks()
    assert message.id == "djangoes_dsl.E007"
    assert says in message.msg
    assert fix in message.hint


def test_hooks_of_the_right_shape_pass(scratch):
    scratch(
        hooks_document(
            get_queryset=classmethod(lambda cls: Article.objects.filter(pk__gt=0)),
            get_instances_from_related=staticmethod(lambda related, *more: []),
            prepare_title=lambda self, instance, *args, **kwargs: instance.title.upper(),
            prepare_body=staticmethod(lambda instance: ""),
            prepare=lambda self, instance: {},
        ),
        "articles",
    )
    assert run_checks() == []


@pytest.mark.django_db(transaction=True)
def test_an_instance_get_queryset_fails_the_checks_before_any_write():
    # What a new user wrote: the check stops `migrate`/`runserver`/`test` at startup,
    # instead of every write failing at commit time and landing in the outbox.
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    document = register("articles")(hooks_document(get_queryset=instance_get_queryset)())
    try:
        with pytest.raises(SystemCheckError, match=r"djangoes_dsl\.E007"):
            call_command("check", "--tag", "djangoes")
    finally:
        registry.unregister(document)
