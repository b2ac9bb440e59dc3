from django.db import models

from djangoes_dsl import IndexedManager


class Category(models.Model):
    name = models.CharField(max_length=100)

    objects = IndexedManager()


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Product(models.Model):
    sku = models.CharField(max_length=32, unique=True)
    title = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    in_stock = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    tags = models.ManyToManyField(Tag, blank=True)

    objects = IndexedManager()


class AuditLog(models.Model):
    """A model no Document mentions."""

    message = models.CharField(max_length=200)
