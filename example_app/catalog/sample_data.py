"""Generate a realistic, reproducible catalogue from word lists (no download, no network).

The same seed always yields the same authors, tags and books.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils.text import slugify

from .models import Author, Book, Tag

FIRST_NAMES = """
Ada Alan Alice Amara Anders Anna Arjun Astrid Beatrice Ben Camille Carlos Chen Clara Daniel
Dara Elena Elif Emil Esther Farah Felix Freya Gabriel Grace Hana Hugo Ines Isaac Ivy Jonas
Julia Kai Kamala Kenji Lars Laura Leila Leo Lina Lucia Luis Mara Marco Maya Mei Miriam Nadia
Naomi Nils Noor Olga Omar Oscar Paula Pedro Priya Rafael Rosa Ruth Sami Sara Simon Sofia
Tariq Teresa Theo Tomas Vera Victor Yara Yusuf Zoe
""".split()

LAST_NAMES = """
Abbott Adeyemi Alvarez Andersen Baker Bauer Bianchi Brennan Castillo Chandra Costa Dubois
Eklund Fischer Fontaine Garcia Greenwood Haddad Hartmann Holm Ibsen Ivanova Jansen Kaplan
Kato Keller Kowalski Lambert Larsen Lindqvist Mahler Marsh Moreau Nakamura Novak Okafor
Olsen Ortega Park Pereira Quinn Rahman Reyes Rossi Sato Schmidt Silva Sorensen Strand
Tanaka Thornton Varga Vogel Wagner Walsh Weber Whitfield Yilmaz Zielinski
""".split()

COUNTRIES = [
    *"""
    Argentina Australia Brazil Canada Chile Denmark Egypt France Germany Ghana India Ireland
    Italy Japan Kenya Mexico Netherlands Nigeria Norway Poland Portugal Spain Sweden Turkey
    """.split(),
    *["New Zealand", "South Korea", "United Kingdom", "United States"],
]

FICTION_TAGS = [
    "Fiction",
    "Mystery",
    "Thriller",
    "Fantasy",
    "Science Fiction",
    "Romance",
    "Historical Fiction",
    "Horror",
    "Adventure",
    "Short Stories",
    "Poetry",
    "Young Adult",
]
NONFICTION_TAGS = [
    "History",
    "Science",
    "Biography",
    "Philosophy",
    "Travel",
    "Cooking",
    "Art",
    "Economics",
    "Nature",
    "Psychology",
    "Politics",
    "Technology",
    "Music",
    "Essays",
]
EXTRA_TAGS = ["Classic", "Award Winner", "Debut", "Translated", "Illustrated", "Bestseller"]

ADJECTIVES = """
Silent Hidden Last Burning Broken Golden Quiet Distant Forgotten Lost Northern Bright
Wandering Secret Crimson Hollow Winter Summer Midnight Glass Paper Iron Salt Wild Little
Endless Patient Restless Silver Lantern Drowned Invisible Borrowed Second Unfinished
""".split()

NOUNS = """
Garden River Harbour Lighthouse Orchard Library Kingdom Map Island Bridge Mountain Letter
Clockmaker Cartographer Archive Forest Station Compass Tide Cathedral Mirror Ferry Atlas
Violin Engine Meadow Citadel Observatory Tower Valley Storm Inheritance Voyage Winter Orchid
""".split()

PLACES = """
Lisbon Kyoto Marrakesh Reykjavik Trieste Valparaiso Odessa Zanzibar Samarkand Tangier
Alexandria Bergen Havana Galway Cartagena Tbilisi Hokkaido Patagonia Provence Sicily
""".split()

TOPICS = """
Salt Time Maps Bread Silence Memory Weather Light Color Trees Mathematics Money Sleep
Cities Rivers Islands Coffee Language Music Ice Stars Bees Tea Glass Paper
""".split()

GERUNDS = """
Reading Walking Listening Forgetting Building Waiting Sailing Drawing Counting Gardening
""".split()

FICTION_TITLES = [
    "The {adj} {noun}",
    "The {noun} of {place}",
    "A {noun} in {place}",
    "The {adj} {noun} of {place}",
    "{first}'s {noun}",
    "The Last {noun}",
    "Beneath the {adj} {noun}",
    "The {noun} and the {noun2}",
    "Letters from {place}",
    "{adj} {noun}",
]
NONFICTION_TITLES = [
    "A Short History of {topic}",
    "The Art of {gerund}",
    "On {topic}",
    "{topic}: A Natural History",
    "The Secret Life of {topic}",
    "Notes on {topic} and {topic2}",
    "{gerund} {place}",
    "The Science of {topic}",
    "How {topic} Made the Modern World",
    "In Praise of {topic}",
]

FICTION_SENTENCES = [
    "When {first} inherits a crumbling {noun_l} in {place}, a forgotten letter leads to a "
    "mystery older than the town itself.",
    "Set in {place} during the winter of {year_set}, this novel follows a {role} who keeps a "
    "secret that could ruin three families.",
    "{first} {last2} has spent twenty years avoiding the {noun_l}; one storm changes everything.",
    "A {adj_l} story of friendship, betrayal and the long road home.",
    "Two strangers meet on a night ferry to {place} and agree to tell each other only lies.",
    "The {role} of a small {noun_l} discovers a map that should not exist.",
    "Told in {count} voices, it moves between {place} and {place2} across half a century.",
    "Critics called it a {adj_l}, luminous book about grief, memory and the sea.",
    "A detective with a failing memory investigates a disappearance at the {noun_l}.",
    "Part ghost story, part love letter to {place}, it is impossible to put down.",
]
NONFICTION_SENTENCES = [
    "A lively account of how {topic_l} shaped trade, cities and everyday life.",
    "Drawing on archives in {place} and {place2}, the author traces {topic_l} from antiquity "
    "to the present.",
    "Part memoir, part field guide, this book is about paying attention to {topic_l}.",
    "{first} {last2} explains the science of {topic_l} with warmth and wit.",
    "Essays on {topic_l}, {topic2_l} and the habits that make a life.",
    "An illustrated journey through {count} centuries of {topic_l}.",
    "The definitive guide for anyone curious about {topic_l}, written for the general reader.",
    "How a {role} from {place} changed our understanding of {topic_l}.",
    "Based on decades of research and hundreds of interviews.",
    "A clear, generous introduction that assumes no prior knowledge.",
]
ROLES = """
lighthouse keeper librarian watchmaker ferryman botanist cartographer baker translator
schoolteacher archivist violinist astronomer
""".split()


def _articles(text: str) -> str:
    """Return ``text`` with "a" before a vowel made "an" ("an orchid", "An Atlas")."""
    return re.sub(r"\b([Aa]) (?=[AEIOUaeiou])", r"\1n ", text)


@dataclass
class Counts:
    authors: int
    tags: int
    books: int


def isbn13(rng: random.Random) -> str:
    """Return a random ISBN-13 (978 prefix) with a valid check digit."""
    digits = [9, 7, 8] + [rng.randrange(10) for _ in range(9)]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    digits.append((10 - total % 10) % 10)
    return "".join(map(str, digits))


class Generator:
    """Build unsaved authors, tags and books from one seeded random generator."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)

    def authors(self, count: int) -> list[Author]:
        rng = self.rng
        names: dict[str, None] = {}
        while len(names) < count:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            if len(names) > len(FIRST_NAMES) * len(LAST_NAMES) // 2:
                name = f"{name} {len(names)}"  # only for very large counts
            names[name] = None
        return [
            Author(
                name=name,
                country=rng.choice(COUNTRIES),
                born=rng.randint(1900, 1995),
                bio=f"{name.split()[0]} writes from {rng.choice(PLACES)}.",
            )
            for name in names
        ]

    def tags(self) -> list[Tag]:
        names = FICTION_TAGS + NONFICTION_TAGS + EXTRA_TAGS
        return [Tag(name=name, slug=slugify(name)) for name in names]

    def _fill(self, template: str) -> str:
        return _articles(self._fill_words(template))

    def _fill_words(self, template: str) -> str:
        rng = self.rng
        topic, topic2 = rng.sample(TOPICS, 2)
        noun, noun2 = rng.sample(NOUNS, 2)
        place, place2 = rng.sample(PLACES, 2)
        adj = rng.choice(ADJECTIVES)
        return template.format(
            adj=adj,
            adj_l=adj.lower(),
            noun=noun,
            noun2=noun2,
            noun_l=noun.lower(),
            place=place,
            place2=place2,
            first=rng.choice(FIRST_NAMES),
            last2=rng.choice(LAST_NAMES),
            topic=topic,
            topic2=topic2,
            topic_l=topic.lower(),
            topic2_l=topic2.lower(),
            gerund=rng.choice(GERUNDS),
            role=rng.choice(ROLES),
            year_set=rng.randint(1850, 1990),
            count=rng.choice(["three", "four", "five"]),
        )

    def book(self, authors: list[Author], weights: list[float], tags: dict[str, Tag]):
        """Return an unsaved Book and the names of its tags."""
        rng = self.rng
        fiction = rng.random() < 0.6
        genre = rng.choice(FICTION_TAGS if fiction else NONFICTION_TAGS)
        tag_names = [genre]
        if rng.random() < 0.45:
            tag_names.append(rng.choice(FICTION_TAGS if fiction else NONFICTION_TAGS))
        if rng.random() < 0.3:
            tag_names.append(rng.choice(EXTRA_TAGS))
        titles = FICTION_TITLES if fiction else NONFICTION_TITLES
        sentences = FICTION_SENTENCES if fiction else NONFICTION_SENTENCES
        summary = " ".join(self._fill(s) for s in rng.sample(sentences, rng.randint(2, 4)))
        book = Book(
            title=self._fill(rng.choice(titles)),
            author=rng.choices(authors, weights)[0],
            summary=summary,
            # Skewed towards recent years, like a real catalogue.
            year=2024 - int(124 * rng.random() ** 2.2),
            pages=rng.randint(90, 900),
            price=Decimal(f"{rng.randint(6, 49)}.{rng.choice(['99', '95', '50', '00'])}"),
            in_stock=rng.random() < 0.9,
        )
        return book, list(dict.fromkeys(tag_names))


@transaction.atomic
def generate(books: int = 3000, authors: int = 250, seed: int = 1) -> Counts:
    """Create ``authors`` authors, the tags and ``books`` books; return what was created."""
    generator = Generator(seed)
    author_rows = Author.objects.bulk_create(generator.authors(authors), batch_size=500)
    tag_rows = {tag.name: tag for tag in Tag.objects.bulk_create(generator.tags())}
    # A few prolific authors and a long tail.
    weights = [1 / (rank + 1) ** 0.7 for rank in range(len(author_rows))]
    isbns: set[str] = set()
    book_rows, book_tags = [], []
    for _ in range(books):
        book, names = generator.book(author_rows, weights, tag_rows)
        while (isbn := isbn13(generator.rng)) in isbns:
            pass
        isbns.add(isbn)
        book.isbn = isbn
        book_rows.append(book)
        book_tags.append(names)
    Book.objects.bulk_create(book_rows, batch_size=500)
    through = Book.tags.through
    through.objects.bulk_create(
        [
            through(book_id=book.pk, tag_id=tag_rows[name].pk)
            for book, names in zip(book_rows, book_tags, strict=True)
            for name in names
        ],
        batch_size=1000,
    )
    return Counts(len(author_rows), len(tag_rows), len(book_rows))
