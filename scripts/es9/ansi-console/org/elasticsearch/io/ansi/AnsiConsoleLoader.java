package org.elasticsearch.io.ansi;

/**
 * Stand-in for Elasticsearch's ansi-console tool, which is not published on Maven Central.
 * The 9.x bootstrap loads this class from lib/tools/ansi-console; returning null means
 * "no ANSI console", so the server logs to its files only.
 */
public class AnsiConsoleLoader implements java.util.function.Supplier<Object> {
    public AnsiConsoleLoader() {}

    @Override
    public Object get() {
        return null;
    }
}
