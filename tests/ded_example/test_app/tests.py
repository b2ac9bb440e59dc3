"""The ported example, tested as a django-elasticsearch-dsl project tests itself: save, then
search; rebuild with the command; related rows changed and deleted. Run by
tests/test_ded_example.py with ``manage.py test`` and this project's settings."""

import datetime
from io import StringIO

from django.core import checks
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase, TransactionTestCase

from djangoes_dsl.compat.test import ESTestCase, is_es_online

from .documents import AdDocument, AdDocument2, CarDocument, ManufacturerDocument
from .models import Ad, Car, Category, Manufacturer


def make_cars():
    maker = Manufacturer.objects.create(
        name="Peugeot", country_code="FR", created=datetime.date(1810, 1, 1)
    )
    sedan = Category.objects.create(title="Sedan", slug="sedan")
    family = Category.objects.create(title="Family", slug="family")
    car = Car.objects.create(
        name="508", launched=datetime.date(2010, 1, 1), type="se", manufacturer=maker
    )
    car.categories.add(sedan, family)
    Ad.objects.create(
        title="Cheap 508", description="<p>low <b>mileage</b></p>", url="http://a.test", car=car
    )
    other = Car.objects.create(name="Partner", launched=datetime.date(1996, 1, 1), type="br")
    return maker, car, other


def car_source(car):
    return CarDocument.get(id=car.pk).to_dict()


class ExampleSettingsTest(ESTestCase, TransactionTestCase):
    def test_the_node_answers(self):
        self.assertTrue(is_es_online())

    def test_check_names_the_native_setting_of_each_ded_setting(self):
        found = {
            message.msg.split(" ", 1)[0]: message.hint
            for message in checks.run_checks()
            if message.id == "djangoes_dsl.W050"
        }
        self.assertEqual(
            found,
            {
                "ELASTICSEARCH_DSL": "Use ES_SERVERS (and ES_INDICES for the indices) instead.",
                "ELASTICSEARCH_DSL_INDEX_SETTINGS": 'Use ES_INDICES["<key>"]["SETTINGS"] instead.',
            },
        )

    def test_index_names_and_settings_from_class_index(self):
        self.assertEqual(CarDocument.get_index_name(), "test_car")
        self.assertEqual(AdDocument2.get_index_name(), "test_add2")
        client = CarDocument._get_connection()
        (settings,) = client.indices.get_settings(index="test_car").body.values()
        self.assertEqual(settings["settings"]["index"]["number_of_shards"], "1")
        (mapping,) = client.indices.get_mapping(index="test_car").body.values()
        mapping = mapping["mappings"]
        self.assertEqual(mapping["properties"]["ads"]["type"], "nested")
        # An object mapping is shown without its type.
        self.assertEqual(sorted(mapping["properties"]["manufacturer"]), ["properties"])


class SaveThenSearchTest(ESTestCase, TransactionTestCase):
    def test_save_then_search(self):
        maker, car, _other = make_cars()
        hits = CarDocument.search().query("match", name="508").execute()
        self.assertEqual([hit.meta.id for hit in hits], [str(car.pk)])
        source = car_source(car)
        self.assertEqual(
            source["manufacturer"], {"name": "Peugeot", "country": "France", "logo": ""}
        )
        self.assertEqual(sorted(c["title"] for c in source["categories"]), ["Family", "Sedan"])
        self.assertEqual([ad["title"] for ad in source["ads"]], ["Cheap 508"])
        self.assertEqual(ManufacturerDocument.get(id=maker.pk).country, "France")
        self.assertEqual(AdDocument.search().query("match", description="mileage").count(), 1)
        # A nested query, and the rows in hit order.
        nested = CarDocument.search().query(
            "nested", path="ads", query={"match": {"ads.title": "cheap"}}
        )
        self.assertEqual(list(nested.to_queryset()), [car])
        self.assertEqual(list(nested.filter_queryset(Car.objects.all())), [car])

    def test_related_updates(self):
        maker, car, other = make_cars()
        maker.name = "Peugeot SA"
        maker.save()
        self.assertEqual(car_source(car)["manufacturer"]["name"], "Peugeot SA")
        ad = Ad.objects.create(title="Second", description="x", url="http://b.test", car=car)
        self.assertEqual(
            sorted(a["title"] for a in car_source(car)["ads"]), ["Cheap 508", "Second"]
        )
        ad.delete()
        self.assertEqual([a["title"] for a in car_source(car)["ads"]], ["Cheap 508"])
        category = Category.objects.get(slug="sedan")
        category.title = "Saloon"
        category.save()
        self.assertEqual(
            sorted(c["title"] for c in car_source(car)["categories"]), ["Family", "Saloon"]
        )
        other.categories.add(category)
        self.assertEqual([c["title"] for c in car_source(other)["categories"]], ["Saloon"])
        maker.delete()
        self.assertNotIn("manufacturer", car_source(car))
        car.delete()
        self.assertEqual(CarDocument.search().count(), 1)

    def test_writes_are_sent_when_the_transaction_commits(self):
        with transaction.atomic():
            make_cars()
            self.assertEqual(CarDocument.search().count(), 0)
        self.assertEqual(CarDocument.search().count(), 2)


class SaveThenSearchInTestCase(ESTestCase, TestCase):
    def test_save_then_search_inside_the_test_transaction(self):
        make_cars()
        self.assertEqual(CarDocument.search().query("match", name="partner").count(), 1)


class CommandTest(ESTestCase, TransactionTestCase):
    def setUp(self):
        super().setUp()
        # A rebuild replaces the index (djangoes' test isolation undoes documents, not
        # indices): leave empty indices of the usual shape for the other tests.
        self.addCleanup(call_command, "search_index", "create", stdout=StringIO())
        self.addCleanup(call_command, "search_index", "delete", "--no-input", stdout=StringIO())

    def test_rebuild_populate_create_delete_with_ded_flags(self):
        from djangoes_dsl import indexing_paused

        with indexing_paused():
            _maker, car, _other = make_cars()
        self.assertEqual(CarDocument.search().count(), 0)
        out = StringIO()
        # The call_command form of django-elasticsearch-dsl projects' tests and scripts.
        call_command(
            "search_index", action="rebuild", models=["test_app.car"], force=True, stdout=out
        )
        self.assertEqual(CarDocument.search().count(), 2)
        self.assertEqual(car_source(car)["manufacturer"]["name"], "Peugeot")
        # The command-line form.
        call_command("search_index", "--rebuild", "-f", "--models", "test_app", stdout=out)
        self.assertEqual(ManufacturerDocument.search().count(), 1)
        self.assertEqual(AdDocument.search().count(), 1)
        call_command("search_index", "--delete", "-f", "--models", "test_app.ad", stdout=out)
        self.assertFalse(AdDocument._get_connection().indices.exists(index="test_add"))
        call_command("search_index", "--create", "--models", "test_app.ad", stdout=out)
        call_command(
            "search_index", "--populate", "--parallel", "--models", "test_app.ad", stdout=out
        )
        self.assertEqual(AdDocument.search().count(), 1)
        call_command("search_index", "--rebuild", "--use-alias", "-f", stdout=out)
        self.assertEqual(CarDocument.search().count(), 2)

    def test_document_update(self):
        from djangoes_dsl import indexing_paused

        with indexing_paused():
            _maker, _car, other = make_cars()
        CarDocument().update(Car.objects.all())
        self.assertEqual(CarDocument.search().count(), 2)
        CarDocument().update(other, action="delete")
        self.assertEqual(CarDocument.search().count(), 1)
