"""Malformed configurations, as a new user makes them: each one is refused on first use with
the right exception, a message that names the offending setting (and shows the bad value
unless it is a credential) and says what to do; and ``manage.py check`` reports it too.

One row per configuration. ``names`` must all appear in the message: the setting path first,
then what else the message must say (the bad value, the suggested key, ...).
"""

from __future__ import annotations

import datetime
import inspect
import pathlib
import ssl
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from elasticsearch import Elasticsearch

from djangoes import ConnectionHandler, IndexDoesNotExist
from djangoes.validation import ConfigurationError
from djangoes_dsl import conf
from tests.settings import ES_URL

OK_INDICES = {"products": {}, "articles": {"NAME": "blog_articles"}}
SERVED = ["products", "articles"]
LONG = "x" * 252  # a valid 252-byte name whose derived test name ("test_" + it) is too long


@dataclass
class Case:
    id: str
    servers: Any = None
    indices: Any = None
    names: tuple[str, ...] = ()
    exception: type[Exception] = ImproperlyConfigured
    suffix: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # DJANGOES_* settings

    def __post_init__(self) -> None:
        if self.servers is None:
            self.servers = {"default": {"INDICES": []}}
        if self.indices is None:
            self.indices = OK_INDICES


def server(id: str, settings: Any, *names: str, **kwargs: Any) -> Case:
    """A case of ES_SERVERS['default'] = settings."""
    return Case(id, servers={"default": settings}, names=names, **kwargs)


def index(id: str, indices: Any, *names: str, **kwargs: Any) -> Case:
    """A case of ES_INDICES = indices, every key served by the default server."""
    keys = list(indices) if isinstance(indices, dict) else []
    servers = {"default": {"INDICES": [k for k in keys if isinstance(k, str) and k]}}
    return Case(id, servers=servers, indices=indices, names=names, **kwargs)


def setting(id: str, values: dict[str, Any], *names: str) -> Case:
    """A case of DJANGOES_* settings."""
    return Case(id, settings=values, names=names)


P = "ES_SERVERS['default']"

SERVERS = [
    Case("servers a list", servers=["default"], names=("ES_SERVERS must be", "['default']")),
    Case("servers a URL", servers="http://h:9200", names=("ES_SERVERS must be", "http://h:9200")),
    Case("no default", servers={"main": {}}, names=("'default'",)),
    server("server a URL", "http://h:1", P, "'http://h:1'"),
    Case("alias not a string", servers={"default": {}, 1: {}},
         names=("ES_SERVERS has the alias 1",)),
    Case("alias empty", servers={"default": {}, "": {}}, names=("ES_SERVERS has the alias ''",)),
    server("HOST", {"HOST": "http://10.255.255.1:9200"}, f"{P}['HOST']", "'HOSTS'"),
    server("PARAM", {"PARAM": {}}, f"{P}['PARAM']", "'PARAMS'"),
    server("INDEXES", {"INDEXES": ["products"]}, f"{P}['INDEXES']", "'INDICES'"),
    server("hosts lower case", {"hosts": ["http://h:1"]}, f"{P}['hosts']", "'HOSTS'"),
    server("ENGNE", {"ENGNE": "x.Y"}, f"{P}['ENGNE']", "'ENGINE'"),
    server("TESTS", {"TESTS": {}}, f"{P}['TESTS']", "'TEST'"),
    server("PASSWD", {"USER": "u", "PASSWD": "p"}, f"{P}['PASSWD']", "'PASSWORD'"),
    server("APIKEY", {"APIKEY": "k"}, f"{P}['APIKEY']", "'API_KEY'"),
    server("USERNAME", {"USERNAME": "u"}, f"{P}['USERNAME']", "'USER'"),
    server("key not a string", {5: 1}, P, "5"),
    server("TEST INDEX", {"TEST": {"INDEX": []}}, f"{P}['TEST']['INDEX']", "'INDICES'"),
    server("TEST NAME", {"TEST": {"NAME": "x"}}, f"{P}['TEST']['NAME']", "INDICES"),
    server("ENGINE a class", {"ENGINE": dict}, f"{P}['ENGINE']", "<class 'dict'>"),
    server("ENGINE empty", {"ENGINE": ""}, f"{P}['ENGINE']", "''"),
    server("ENGINE missing", {"ENGINE": "no.such.Backend"}, f"{P}['ENGINE']", "'no.such.Backend'"),
    server("ENGINE not a backend", {"ENGINE": "collections.OrderedDict"}, f"{P}['ENGINE']",
           "BaseBackend"),
    server("ENGINE class missing", {"ENGINE": "djangoes.backends.base.Nope"}, f"{P}['ENGINE']",
           "Nope"),
    server("HOSTS a number", {"HOSTS": 9200}, f"{P}['HOSTS']", "9200"),
    server("HOSTS one dict", {"HOSTS": {"host": "h"}}, f"{P}['HOSTS']", "http://h:9200"),
    server("HOSTS empty", {"HOSTS": []}, f"{P}['HOSTS']", "empty"),
    server("HOSTS one string, commas", {"HOSTS": "http://a:9200,http://b:9200"}, f"{P}['HOSTS']",
           "HOSTS is a list of node URLs", "['http://a:9200', 'http://b:9200']"),
    server("HOSTS one string, spaces", {"HOSTS": "http://a:9200 http://u:pw@b:9200"},
           f"{P}['HOSTS']", "one URL per item", "['http://a:9200', 'http://b:9200']"),
    server("HOSTS one string, semicolons", {"HOSTS": "a:9200;b:9200"}, f"{P}['HOSTS']",
           "['a:9200', 'b:9200']"),
    *[
        server(f"7.x {name}", {"PARAMS": {name: value}}, f"{P}['PARAMS'][{name!r}]", *says)
        for name, value, says in [
            ("timeout", 10, ("elasticsearch-py 7.x", "'request_timeout'")),
            ("use_ssl", False, ("https:// in HOSTS",)),
            ("url_prefix", "/es", ("path in each HOSTS URL",)),
            ("maxsize", 25, ("'connections_per_node'",)),
            ("sniffer_timeout", 60, ("'min_delay_between_sniffing'",)),
            ("connection_class", object, ("'node_class'",)),
        ]
        # The 8.x client still takes some of them (deprecated, with a warning).
        if name not in inspect.signature(Elasticsearch.__init__).parameters
    ],
    server("no scheme", {"HOSTS": ["localhost:9200"]}, f"{P}['HOSTS'][0]", "'localhost:9200'",
           "http://"),
    server("port a word", {"HOSTS": ["http://h:port"]}, f"{P}['HOSTS'][0]", "'http://h:port'",
           "Could not parse URL"),
    server("port too high", {"HOSTS": ["http://h:99999"]}, f"{P}['HOSTS'][0]",
           "'http://h:99999'"),
    server("no host", {"HOSTS": ["http://:9200"]}, f"{P}['HOSTS'][0]", "'http://:9200'",
           "'host'"),
    *[
        server(f"password with {c}", {"HOSTS": [f"http://u:p{c}w@h:9200"]}, f"{P}['HOSTS'][0]",
               "Percent-encode")
        for c in "#/?@"
    ],
    server("user info without :", {"HOSTS": ["http://token@h:9200"]}, f"{P}['HOSTS'][0]",
           "empty password"),
    server("host a number", {"HOSTS": [9200]}, f"{P}['HOSTS'][0]", "9200"),
    server("host None", {"HOSTS": [None]}, f"{P}['HOSTS'][0]", "None"),
    server("host dict port", {"HOSTS": [{"host": "h", "port": "x"}]}, f"{P}['HOSTS'][0]",
           "'port': 'x'", "'scheme'"),
    server("host dict typo", {"HOSTS": [{"hostname": "h", "port": 9200}]}, f"{P}['HOSTS'][0]",
           "'hostname'", "'host'"),
    server("host dict scheme", {"HOSTS": [{"host": "h", "scheme": "ftp"}]}, f"{P}['HOSTS'][0]",
           "'scheme': 'ftp'", "'port'"),
    server("host dict auth", {"HOSTS": [{"host": "h", "http_auth": "u:p"}]}, f"{P}['HOSTS'][0]",
           "'http_auth'", "USER and PASSWORD"),
    server("HOSTS and cloud_id", {"HOSTS": ["http://h:1"], "PARAMS": {"cloud_id": "c:ZQ=="}},
           f"{P}['HOSTS']", "cloud_id"),
    server("PARAMS a list", {"PARAMS": [("request_timeout", 1)]}, f"{P}['PARAMS']",
           "[('request_timeout', 1)]"),
    server("request_timout", {"PARAMS": {"request_timout": 3}},
           f"{P}['PARAMS']['request_timout']", "'request_timeout'"),
    server("retry_on_timout", {"PARAMS": {"retry_on_timout": True}},
           f"{P}['PARAMS']['retry_on_timout']", "Did you mean 'retry_on_timeout'?"),
    server("hosts in PARAMS", {"PARAMS": {"hosts": ["http://h:1"]}}, f"{P}['PARAMS']",
           "'hosts'", f"{P}['HOSTS']"),
    server("basic_auth a dict", {"PARAMS": {"basic_auth": {"u": "p"}}},
           f"{P}['PARAMS']['basic_auth']", "(user, password) pair", "not shown"),
    server("basic_auth three", {"PARAMS": {"basic_auth": ("u", "p", "x")}},
           f"{P}['PARAMS']['basic_auth']", "not shown"),
    server("basic_auth not base64", {"PARAMS": {"basic_auth": "userpass"}},
           f"{P}['PARAMS']['basic_auth']", "not shown"),
    server("basic_auth in plain text", {"PARAMS": {"basic_auth": "elastic:pw-secret"}},
           f"{P}['PARAMS']['basic_auth']", "base64 of 'user:password'", "not shown"),
    server("api_key a number", {"PARAMS": {"api_key": 5}}, f"{P}['PARAMS']['api_key']",
           "not shown"),
    server("bearer_auth empty", {"PARAMS": {"bearer_auth": ""}},
           f"{P}['PARAMS']['bearer_auth']", "token"),
    server("timeout a string", {"PARAMS": {"request_timeout": "10"}},
           f"{P}['PARAMS']['request_timeout']", "'10'", "float"),
    server("max_retries a float", {"PARAMS": {"max_retries": 1.5}},
           f"{P}['PARAMS']['max_retries']", "1.5"),
    server("retry_on_timeout yes", {"PARAMS": {"retry_on_timeout": "yes"}},
           f"{P}['PARAMS']['retry_on_timeout']", "'yes'"),
    server("verify_certs 'false'", {"PARAMS": {"verify_certs": "false"}},
           f"{P}['PARAMS']['verify_certs']", "'false'"),
    server("ca_certs missing", {"PARAMS": {"ca_certs": "/no/such/ca.pem"}},
           f"{P}['PARAMS']['ca_certs']", "/no/such/ca.pem", "'https'"),
    server("headers a list", {"PARAMS": {"headers": ["x-a: 1"]}}, f"{P}['PARAMS']['headers']",
           "not shown"),
    server("connections_per_node 0", {"PARAMS": {"connections_per_node": 0}},
           f"{P}['PARAMS']['connections_per_node']", "(0)", "positive integer"),
    server("PARAMS key a number", {"PARAMS": {1: 2}}, f"{P}['PARAMS'] has the key 1"),
    server("INDICES a string", {"INDICES": "products"}, f"{P}['INDICES']", "'products'"),
    server("INDICES a number", {"INDICES": [1]}, f"{P}['INDICES']", "1"),
    server("INDICES twice", {"INDICES": ["products", "products"]}, f"{P}['INDICES']",
           "'products' twice"),
    server("INDICES unknown", {"INDICES": ["ghost"]}, f"{P}['INDICES']", "'ghost'",
           exception=IndexDoesNotExist),
    server("INDICES typo", {"INDICES": ["prodcts"]}, f"{P}['INDICES']", "'products'",
           exception=IndexDoesNotExist),
    server("TEST INDICES a string", {"TEST": {"INDICES": "a"}}, f"{P}['TEST']['INDICES']", "'a'"),
    server("TEST INDICES unknown", {"TEST": {"INDICES": ["ghost"]}}, f"{P}['TEST']['INDICES']",
           "'ghost'", exception=IndexDoesNotExist, suffix="_gw0"),
    server("TEST a list", {"TEST": []}, f"{P}['TEST']", "[]"),
    server("USER alone", {"USER": "elastic"}, f"{P}['USER']", f"{P}['PASSWORD']"),
    server("PASSWORD alone", {"PASSWORD": "pw-secret"}, f"{P}['PASSWORD']", f"{P}['USER']"),
    server("USER empty", {"USER": "", "PASSWORD": "p"}, f"{P}['USER']", "''"),
    server("PASSWORD a number", {"USER": "u", "PASSWORD": 1234}, f"{P}['PASSWORD']",
           "not shown"),
    server("API_KEY three", {"API_KEY": ("a", "b", "c")}, f"{P}['API_KEY']", "not shown"),
    server("API_KEY empty", {"API_KEY": ""}, f"{P}['API_KEY']", "not shown"),
    server("USER and basic_auth", {"USER": "u", "PASSWORD": "p",
                                   "PARAMS": {"basic_auth": ("u", "p")}}, P, "more than one way"),
    server("API_KEY and USER", {"USER": "u", "PASSWORD": "p", "API_KEY": "k"}, P,
           "more than one way"),
    server("URL and USER", {"USER": "u", "PASSWORD": "p", "HOSTS": ["http://u:p@h:1"]}, P,
           "more than one way"),
    server("OPTIONS a list", {"OPTIONS": []}, f"{P}['OPTIONS']", "[]"),
    # The client takes these when it is built; every request would fail with them.
    server("scheme ftp", {"HOSTS": ["ftp://h:21"]}, f"{P}['HOSTS'][0]", "'ftp'", "http"),
    server("query in URL", {"HOSTS": ["http://h:9200/?timeout=3"]}, f"{P}['HOSTS'][0]",
           "query string", "PARAMS"),
    server("fragment in URL", {"HOSTS": ["http://h:9200#x"]}, f"{P}['HOSTS'][0]", "fragment"),
    server("timeout negative", {"PARAMS": {"request_timeout": -1}},
           f"{P}['PARAMS']['request_timeout']", "-1", "above 0"),
    server("max_retries negative", {"PARAMS": {"max_retries": -1}},
           f"{P}['PARAMS']['max_retries']", "-1", "0 or more"),
    server("retry_on_status", {"PARAMS": {"retry_on_status": [999]}},
           f"{P}['PARAMS']['retry_on_status']", "[999]", "between 100 and 599"),
]  # fmt: skip

# Settings users write that the client takes: the client's declared types are read, never
# narrowed (a path for a file, a node class by name, a pair as a list).
ACCEPTED = [
    {"PARAMS": {"request_timeout": 10}}, {"PARAMS": {"request_timeout": 2.5}},
    {"PARAMS": {"request_timeout": None, "max_retries": 3, "retry_on_timeout": True}},
    {"PARAMS": {"retry_on_status": 503}}, {"PARAMS": {"retry_on_status": (502, 503)}},
    {"HOSTS": ["https://h:9243"], "PARAMS": {"verify_certs": False, "ssl_show_warn": False}},
    {"HOSTS": ["https://h:9243"], "PARAMS": {"ca_certs": __file__}},
    {"HOSTS": ["https://h:9243"], "PARAMS": {"ca_certs": pathlib.Path(__file__)}},
    {"HOSTS": ["https://h:9243"], "PARAMS": {"ssl_context": ssl.create_default_context()}},
    {"PARAMS": {"headers": {"x-a": "1"}, "opaque_id": "shop", "http_compress": True}},
    # sniff_on_start sends a request when the client is built: a node must answer.
    {"HOSTS": [ES_URL], "PARAMS": {"sniff_on_start": True, "sniff_on_node_failure": True}},
    {"PARAMS": {"node_class": "urllib3", "connections_per_node": 5}},
    {"HOSTS": [{"scheme": "https", "host": "h", "port": 9243, "path_prefix": "/es"}]},
    {"HOSTS": "http://h:1"}, {"USER": "u", "PASSWORD": "p"}, {"API_KEY": ("id", "key")},
    {"PARAMS": {"basic_auth": ["u", "p"]}}, {"HOSTS": ["http://u:p%23w@h:9200"]},
]  # fmt: skip

I = "ES_INDICES"  # noqa: E741

INDICES = [
    index("indices a list", ["products"], "ES_INDICES must be", "['products']"),
    index("index a string", {"products": "shop"}, f"{I}['products']", "'shop'"),
    index("key a number", {1: {}}, f"{I} has the key 1"),
    index("key empty", {"": {}}, f"{I} has the key ''"),
    index("NAM", {"p": {"NAM": "p"}}, f"{I}['p']['NAM']", "'NAME'"),
    index("ALIAS", {"p": {"ALIAS": ["r"]}}, f"{I}['p']['ALIAS']", "'ALIASES'"),
    index("SETTING", {"p": {"SETTING": {}}}, f"{I}['p']['SETTING']", "'SETTINGS'"),
    index("name lower case", {"p": {"name": "p"}}, f"{I}['p']['name']", "'NAME'"),
    index("analyzer a list", {"p": {"SETTINGS": {"analysis": {"analyzer": {"x": ["lowercase"]}}}}},
          f"{I}['p']['SETTINGS']['analysis']['analyzer']['x']", "a dict defining the analyzer 'x'",
          "['lowercase']", "'filter'"),
    index("filter a string", {"p": {"SETTINGS": {"analysis": {"filter": {"f": "stemmer"}}}}},
          f"{I}['p']['SETTINGS']['analysis']['filter']['f']", "'stemmer'"),
    index("analysis section a list", {"p": {"SETTINGS": {"analysis": {"tokenizer": ["t"]}}}},
          f"{I}['p']['SETTINGS']['analysis']['tokenizer']", "named tokenizer definitions"),
    index("analysis section typo", {"p": {"SETTINGS": {"analysis": {"analyzers": {}}}}},
          f"{I}['p']['SETTINGS']['analysis']['analyzers']", "Did you mean 'analyzer'?"),
    index("analysis a list", {"p": {"SETTINGS": {"analysis": ["standard"]}}},
          f"{I}['p']['SETTINGS']['analysis']", "a dict of analysis sections"),
    index("analysis under index", {"p": {"SETTINGS": {"index": {"analysis": {"analyzer": {
          "x": "standard"}}}}}}, f"{I}['p']['SETTINGS']['index']['analysis']['analyzer']['x']"),
    index("TEST analyzer a list",
          {"p": {"TEST": {"SETTINGS": {"analysis": {"char_filter": {"c": []}}}}}},
          f"{I}['p']['TEST']['SETTINGS']['analysis']['char_filter']['c']"),
    index("TEST NAMES", {"p": {"TEST": {"NAMES": "t"}}}, f"{I}['p']['TEST']['NAMES']", "'NAME'"),
    index("TEST INDICES", {"p": {"TEST": {"INDICES": []}}}, f"{I}['p']['TEST']['INDICES']",
          "NAME, ALIASES, SETTINGS"),
    index("NAME empty", {"p": {"NAME": ""}}, f"{I}['p']['NAME']", "''"),
    index("NAME a number", {"p": {"NAME": 5}}, f"{I}['p']['NAME']", "5"),
    index("NAME upper case", {"p": {"NAME": "Products"}}, f"{I}['p']['NAME']", "'Products'",
          "upper-case"),
    *[
        index(f"NAME {name!r}", {"p": {"NAME": name}}, f"{I}['p']['NAME']", repr(name), says)
        for name, says in [
            ("_x", "starts with '_'"), ("-x", "starts with '-'"), ("+x", "starts with '+'"),
            (".", "is '.'"), ("..", "is '..'"), ("a b", "a space"), ("a*b", "'*'"),
            ("a,b", "','"), ("a#b", "'#'"), ("a|b", "'|'"), ("a:b", "':'"), ("a/b", "'/'"),
            ("a\\b", "'\\\\'"), ('a"b', "'\"'"), ("a<b", "'<'"), ("a>b", "'>'"),
            ("a?b", "'?'"), ("a\tb", "control character"),
        ]
    ],
    index("NAME 256 bytes", {"p": {"NAME": "a" * 256}}, f"{I}['p']['NAME']", "256 bytes"),
    index("NAME 256 UTF-8 bytes", {"p": {"NAME": "ü" * 128}}, f"{I}['p']['NAME']",
          "256 bytes"),
    index("key as NAME upper case", {"Products": {}}, f"{I}['Products'] has no NAME",
          "'Products'"),
    index("ALIASES a dict", {"p": {"ALIASES": {"r": {}}}}, f"{I}['p']['ALIASES']", "{'r': {}}"),
    index("ALIASES a number", {"p": {"ALIASES": [1]}}, f"{I}['p']['ALIASES']", "[1]"),
    index("index alias empty", {"p": {"ALIASES": [""]}}, f"{I}['p']['ALIASES'][0]", "empty"),
    index("alias -x", {"p": {"ALIASES": ["-x"]}}, f"{I}['p']['ALIASES'][0]", "'-x'"),
    index("alias _r", {"p": {"ALIASES": ["_r"]}}, f"{I}['p']['ALIASES'][0]", "'_r'"),
    index("alias with a space", {"p": {"ALIASES": ["a b"]}}, f"{I}['p']['ALIASES'][0]",
          "a space"),
    index("alias twice", {"p": {"ALIASES": ["r", "r"]}}, f"{I}['p']['ALIASES'][1]",
          f"{I}['p']['ALIASES'][0]"),
    index("alias equal to its NAME", {"p": {"NAME": "p1", "ALIASES": ["p1"]}},
          f"{I}['p']['ALIASES'][0]", f"{I}['p']['NAME']"),
    index("one alias, two indices", {"a": {"ALIASES": ["all"]}, "b": {"ALIASES": ["all"]}},
          f"{I}['b']['ALIASES'][0]", f"{I}['a']['ALIASES'][0]"),
    index("NAME equal to an alias", {"a": {"ALIASES": ["shared"]}, "b": {"NAME": "shared"}},
          f"{I}['b']['NAME']", f"{I}['a']['ALIASES'][0]"),
    index("one NAME, two keys", {"a": {"NAME": "same"}, "b": {"NAME": "same"}},
          f"{I}['b']['NAME']", f"{I}['a']['NAME']"),
    index("TEST NAME is NAME", {"p": {"NAME": "shop", "TEST": {"NAME": "shop"}}},
          f"{I}['p']['TEST']['NAME']", "'shop'"),
    index("TEST alias is live", {"p": {"ALIASES": ["r"], "TEST": {"ALIASES": ["r"]}}},
          f"{I}['p']['TEST']['ALIASES']", "['r']"),
    index("TEST NAME is another's NAME", {"a": {}, "b": {"NAME": "test_a"}},
          f"{I}['a']['TEST']", "'test_a'", f"{I}['b']"),
    index("TEST NAME upper case", {"p": {"TEST": {"NAME": "Test_p"}}},
          f"{I}['p']['TEST']['NAME']", "'Test_p'"),
    index("TEST NAME _t", {"p": {"TEST": {"NAME": "_t"}}}, f"{I}['p']['TEST']['NAME']", "'_t'"),
    index("TEST alias -t", {"p": {"TEST": {"ALIASES": ["-t"]}}},
          f"{I}['p']['TEST']['ALIASES'][0]", "'-t'"),
    index("one TEST NAME, two keys", {"a": {"TEST": {"NAME": "t"}}, "b": {"TEST": {"NAME": "t"}}},
          f"{I}['b']['TEST']['NAME']", f"{I}['a']['TEST']['NAME']"),
    index("derived TEST NAME too long", {"p": {"NAME": LONG}},
          f"{I}['p']['TEST']['NAME'] (by default)", "257 bytes"),
    index("SETTINGS a list", {"p": {"SETTINGS": [1]}}, f"{I}['p']['SETTINGS']", "[1]"),
    index("SETTINGS with settings", {"p": {"SETTINGS": {"settings": {"number_of_shards": 1}}}},
          f"{I}['p']['SETTINGS'] contains 'settings'", "Move what is inside"),
    index("SETTINGS with mappings", {"p": {"SETTINGS": {"mappings": {}}}},
          f"{I}['p']['SETTINGS'] contains 'mappings'", "Document"),
    index("SETTINGS with aliases", {"p": {"SETTINGS": {"aliases": {}}}},
          f"{I}['p']['SETTINGS'] contains 'aliases'", "ALIASES"),
    index("no shards", {"p": {"SETTINGS": {"number_of_shards": 0}}},
          f"{I}['p']['SETTINGS']['number_of_shards']", "0"),
    index("negative replicas", {"p": {"SETTINGS": {"number_of_replicas": -1}}},
          f"{I}['p']['SETTINGS']['number_of_replicas']", "-1"),
    index("index.number_of_shards a word", {"p": {"SETTINGS": {"index.number_of_shards": "x"}}},
          f"{I}['p']['SETTINGS']['index.number_of_shards']", "'x'"),
    index("nested shards", {"p": {"SETTINGS": {"index": {"number_of_shards": 0}}}},
          f"{I}['p']['SETTINGS']['index']['number_of_shards']", "0"),
    index("TEST SETTINGS a string", {"p": {"TEST": {"SETTINGS": "x"}}},
          f"{I}['p']['TEST']['SETTINGS']", "'x'"),
    index("worker suffix too long", {"p": {"NAME": "x" * 245}},
          f"{I}['p']['TEST']['NAME'] (by default) with the worker suffix '_gw12345'",
          "258 bytes", suffix="_gw12345"),
    index("worker suffix upper case", {"p": {}},
          f"{I}['p']['TEST']['NAME'] (by default) with the worker suffix '_GW1'",
          "'test_p_GW1'", suffix="_GW1"),
    index("worker suffix with *", {"p": {"ALIASES": ["r"]}},
          f"{I}['p']['TEST']['NAME'] (by default) with the worker suffix '_*'", "'*'",
          suffix="_*"),
]  # fmt: skip


def _two_arguments(first, second):  # a failure handler must take one
    return None


SETTINGS = [
    setting("chunk size -5", {"DJANGOES_BULK_CHUNK_SIZE": -5}, "DJANGOES_BULK_CHUNK_SIZE", "-5"),
    setting("chunk size 0", {"DJANGOES_BULK_CHUNK_SIZE": 0}, "DJANGOES_BULK_CHUNK_SIZE", "0"),
    setting("chunk size 'abc'", {"DJANGOES_BULK_CHUNK_SIZE": "abc"}, "DJANGOES_BULK_CHUNK_SIZE",
            "'abc'"),
    setting("chunk size '500'", {"DJANGOES_BULK_CHUNK_SIZE": "500"}, "DJANGOES_BULK_CHUNK_SIZE",
            "'500'", "int(os.environ"),
    setting("chunk size True", {"DJANGOES_BULK_CHUNK_SIZE": True}, "DJANGOES_BULK_CHUNK_SIZE",
            "True"),
    setting("chunk size 2.5", {"DJANGOES_BULK_CHUNK_SIZE": 2.5}, "DJANGOES_BULK_CHUNK_SIZE",
            "2.5"),
    setting("processor a function", {"DJANGOES_SIGNAL_PROCESSOR": "os.path.join"},
            "DJANGOES_SIGNAL_PROCESSOR", "'os.path.join'", "BaseSignalProcessor"),
    setting("processor missing", {"DJANGOES_SIGNAL_PROCESSOR": "no.such.Processor"},
            "DJANGOES_SIGNAL_PROCESSOR", "'no.such.Processor'", "cannot be imported"),
    setting("processor a number", {"DJANGOES_SIGNAL_PROCESSOR": 5}, "DJANGOES_SIGNAL_PROCESSOR",
            "5"),
    setting("processor another class", {"DJANGOES_SIGNAL_PROCESSOR": "collections.OrderedDict"},
            "DJANGOES_SIGNAL_PROCESSOR", "not a subclass"),
    setting("errors 'warn'", {"DJANGOES_INDEXING_ERRORS": "warn"}, "DJANGOES_INDEXING_ERRORS",
            "'warn'", "'log' or 'raise'"),
    setting("errors 'Raise'", {"DJANGOES_INDEXING_ERRORS": "Raise"}, "DJANGOES_INDEXING_ERRORS",
            "Did you mean 'raise'"),
    setting("errors None", {"DJANGOES_INDEXING_ERRORS": None}, "DJANGOES_INDEXING_ERRORS", "None"),
    setting("handler missing", {"DJANGOES_INDEXING_FAILURE_HANDLER": "no.such.handler"},
            "DJANGOES_INDEXING_FAILURE_HANDLER", "'no.such.handler'"),
    setting("handler a string", {"DJANGOES_INDEXING_FAILURE_HANDLER": "os.sep"},
            "DJANGOES_INDEXING_FAILURE_HANDLER", "cannot be called"),
    setting("handler a number", {"DJANGOES_INDEXING_FAILURE_HANDLER": 5},
            "DJANGOES_INDEXING_FAILURE_HANDLER", "5"),
    setting("handler without arguments", {"DJANGOES_INDEXING_FAILURE_HANDLER": "os.getcwd"},
            "DJANGOES_INDEXING_FAILURE_HANDLER", "one argument"),
    setting("handler with two", {"DJANGOES_INDEXING_FAILURE_HANDLER": _two_arguments},
            "DJANGOES_INDEXING_FAILURE_HANDLER", "one argument"),
    setting("processes -1", {"DJANGOES_REBUILD_PROCESSES": -1}, "DJANGOES_REBUILD_PROCESSES",
            "-1"),
    setting("processes '4'", {"DJANGOES_REBUILD_PROCESSES": "4"}, "DJANGOES_REBUILD_PROCESSES",
            "'4'"),
    setting("durable 'False'", {"DJANGOES_DURABLE": "False"}, "DJANGOES_DURABLE", "'False'",
            "would count as true"),
    setting("durable 1", {"DJANGOES_DURABLE": 1}, "DJANGOES_DURABLE", "1"),
    setting("grace -1", {"DJANGOES_OUTBOX_GRACE": -1}, "DJANGOES_OUTBOX_GRACE", "-1"),
    setting("grace '60'", {"DJANGOES_OUTBOX_GRACE": "60"}, "DJANGOES_OUTBOX_GRACE", "'60'"),
    setting("grace NaN", {"DJANGOES_OUTBOX_GRACE": float("nan")}, "DJANGOES_OUTBOX_GRACE", "nan"),
    setting("grace a timedelta", {"DJANGOES_OUTBOX_GRACE": datetime.timedelta(seconds=60)},
            "DJANGOES_OUTBOX_GRACE", "timedelta"),
    setting("backoff 0", {"DJANGOES_RETRY_BACKOFF": 0}, "DJANGOES_RETRY_BACKOFF", "0"),
    setting("backoff -1", {"DJANGOES_RETRY_BACKOFF": -1}, "DJANGOES_RETRY_BACKOFF", "-1"),
    setting("max backoff below backoff", {"DJANGOES_RETRY_BACKOFF": 10,
                                          "DJANGOES_RETRY_MAX_BACKOFF": 5},
            "DJANGOES_RETRY_MAX_BACKOFF", "5", "DJANGOES_RETRY_BACKOFF (10)"),
    setting("max backoff infinite", {"DJANGOES_RETRY_MAX_BACKOFF": float("inf")},
            "DJANGOES_RETRY_MAX_BACKOFF", "inf"),
    setting("warn after 0", {"DJANGOES_OUTBOX_WARN_AFTER": 0}, "DJANGOES_OUTBOX_WARN_AFTER", "0"),
    setting("delivery 'rq'", {"DJANGOES_DELIVERY": "rq"}, "DJANGOES_DELIVERY", "'rq'",
            "'inline'"),
    setting("delivery 'Inline'", {"DJANGOES_DELIVERY": "Inline"}, "DJANGOES_DELIVERY",
            "Did you mean 'inline'"),
]  # fmt: skip

CASES = SERVERS + INDICES + SETTINGS


def test_the_table_is_large_and_each_case_named_once():
    assert len(CASES) >= 90
    assert len({case.id for case in CASES}) == len(CASES)


def first_use(case: Case) -> ConnectionHandler:
    """Use the configuration as an application would: settings, indices, every backend."""
    connections = ConnectionHandler(servers=case.servers, indices=case.indices)
    connections.indices  # noqa: B018
    if case.suffix:
        connections.use_test_settings(True, suffix=case.suffix)
    for alias in connections:
        connections[alias].client  # noqa: B018  (builds the client; sends nothing)
    return connections


def assert_clear(error: BaseException, case: Case) -> None:
    message = str(error)
    for expected in case.names:
        assert expected in message, f"{expected!r} not in {message!r}"
    # Says what to do: a hint of its own, or the rule the value breaks.
    if isinstance(error, ConfigurationError):
        assert error.hint or "must be" in error.problem, message
    else:
        assert "Add ES_INDICES[" in message, message


@pytest.mark.parametrize("case", SERVERS + INDICES, ids=lambda case: case.id)
def test_es_settings_are_refused_by_name_on_first_use(case):
    with pytest.raises(case.exception) as raised:
        first_use(case)
    assert_clear(raised.value, case)


@pytest.mark.parametrize(
    "case", [case for case in SERVERS + INDICES if not case.suffix], ids=lambda case: case.id
)
def test_es_settings_are_reported_by_the_checks(case):
    errors = ConnectionHandler(servers=case.servers, indices=case.indices).configuration_errors()
    assert any(case.names[0] in str(error) for error in errors), [str(e) for e in errors]


@pytest.mark.parametrize("case", SETTINGS, ids=lambda case: case.id)
def test_djangoes_settings_are_refused_by_name_on_first_use(case):
    name = case.names[0]
    # The signal processor is used as soon as it is set: entering the override raises.
    with pytest.raises(ImproperlyConfigured) as raised, override_settings(**case.settings):
        conf.get(name)
    assert_clear(raised.value, case)


@pytest.mark.parametrize(
    "case",
    [case for case in SETTINGS if "DJANGOES_SIGNAL_PROCESSOR" not in case.settings],
    ids=lambda case: case.id,
)
def test_djangoes_settings_are_reported_by_the_checks(case):
    with override_settings(**case.settings):
        assert case.names[0] in [error.setting for error in conf.all_errors()]


def _keys(settings: dict[str, Any]) -> str:
    """Name a case by its keys (PARAMS by theirs): values may be objects with addresses."""
    return " ".join(
        f"{key}{sorted(value)}" if key == "PARAMS" else key for key, value in settings.items()
    )


@pytest.mark.parametrize("settings", ACCEPTED, ids=_keys)
def test_what_the_client_takes_is_not_refused(settings):
    connections = ConnectionHandler(servers={"default": settings}, indices={})
    assert connections.configuration_errors() == []
    assert connections["default"].client is not None  # built: nothing is sent


@pytest.mark.parametrize("case", SERVERS, ids=lambda case: case.id)
def test_credentials_are_never_shown_in_these_messages(case):
    with pytest.raises(case.exception) as raised:
        first_use(case)
    for secret in ("pw-secret", "p#w", "p/w", "p?w", "p@w"):
        assert secret not in str(raised.value)
