import org.elasticsearch.bootstrap.ServerArgs;
import org.elasticsearch.common.io.stream.OutputStreamStreamOutput;
import org.elasticsearch.common.settings.KeyStoreWrapper;
import org.elasticsearch.common.settings.SecureSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small replacement for Elasticsearch's server-cli, which is not published on Maven Central
 * for 9.x.
 *
 * <p>Like server-cli it prepares the node's environment (elasticsearch.yml plus -E settings),
 * computes the JVM options (system options, config/jvm.options, jvm.options.d/*.options,
 * ES_JAVA_OPTS), starts the server JVM on the module path with the logs directory as its working
 * directory, and writes the serialized {@link ServerArgs} to the server's stdin. The server
 * watches that pipe: it must stay open for the server's lifetime, so this process lives as long
 * as the server does and exits with the server's exit code.
 *
 * <p>The server writes the pidfile itself (it is part of ServerArgs), so the pidfile holds the
 * server JVM's PID; a SIGTERM to it shuts the node down cleanly and this launcher then exits.
 * A SIGTERM to the launcher asks the server to shut down through the pipe.
 *
 * <p>Usage: {@code EsMiniLauncher [-d] [-q] [-p pidfile] [-E key=value]...}, with the system
 * properties {@code es.path.home} and {@code es.path.conf}. Environment: ES_JAVA_OPTS, ES_TMPDIR,
 * ES_LAUNCHER_READY_FILE (a file created once the server reports that it is ready).
 */
public class EsMiniLauncher {
    // Markers the server writes on stderr (see org.elasticsearch.bootstrap.BootstrapInfo).
    static final char SERVER_READY_MARKER = '\u0018';
    static final char USER_EXCEPTION_MARKER = '\u0015';
    // Written to the server's stdin to ask for a graceful shutdown.
    static final int SERVER_SHUTDOWN_MARKER = '\u001b';

    public static void main(String[] argv) throws Exception {
        boolean daemonize = false, quiet = false;
        Path pidFile = null;
        Map<String, String> cmdSettings = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            switch (a) {
                case "-d", "--daemonize" -> daemonize = true;
                case "-q", "--quiet" -> quiet = true;
                case "-p", "--pidfile" -> pidFile = Paths.get(argv[++i]).toAbsolutePath();
                case "-E" -> putSetting(cmdSettings, argv[++i]);
                default -> {
                    if (a.startsWith("-E")) {
                        putSetting(cmdSettings, a.substring(2));
                    } else if (a.startsWith("--pidfile=")) {
                        pidFile = Paths.get(a.substring("--pidfile=".length())).toAbsolutePath();
                    } else {
                        System.err.println("unknown argument: " + a);
                        System.exit(64);
                    }
                }
            }
        }
        Path home = Paths.get(System.getProperty("es.path.home")).toAbsolutePath();
        Path conf = Paths.get(System.getProperty("es.path.conf", home.resolve("config").toString())).toAbsolutePath();
        cmdSettings.putIfAbsent("path.home", home.toString());

        Environment env = InternalSettingsPreparer.prepareEnvironment(
            Settings.EMPTY, cmdSettings, conf, () -> System.getenv("HOSTNAME"));

        // Without x-pack there is nothing secret to pass, but ServerArgs needs a keystore:
        // use the node's unencrypted one when present, an empty one otherwise.
        SecureSettings secrets;
        if (Files.exists(KeyStoreWrapper.keystorePath(env.configDir()))) {
            KeyStoreWrapper keystore = KeyStoreWrapper.load(env.configDir());
            keystore.decrypt(new char[0]);
            secrets = keystore;
        } else {
            secrets = KeyStoreWrapper.create();
        }
        ServerArgs args = new ServerArgs(daemonize, quiet, pidFile, secrets, env.settings(), env.configDir(), env.logsDir());

        String esTmp = System.getenv("ES_TMPDIR");
        Path tmp = esTmp != null ? Paths.get(esTmp) : Files.createTempDirectory("elasticsearch-");
        Files.createDirectories(tmp);
        Path logs = env.logsDir().toAbsolutePath();
        Files.createDirectories(logs);

        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions(home, conf, tmp));
        cmd.addAll(List.of("--module-path", home.resolve("lib").toString(),
            "--add-modules=jdk.net", "--add-modules=jdk.management.agent", "--add-modules=ALL-MODULE-PATH",
            "-m", "org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch"));
        if (System.getenv("ES_LAUNCHER_DEBUG") != null) {
            System.err.println("launching: " + String.join(" ", cmd));
        }

        ProcessBuilder pb = new ProcessBuilder(cmd);
        // As with server-cli: relative paths in jvm.options (gc.log, hs_err files) land in the logs directory.
        pb.directory(logs.toFile());
        pb.environment().remove("ES_JAVA_OPTS");
        pb.environment().remove("ES_TMPDIR");
        pb.environment().putIfAbsent("LIBFFI_TMPDIR", tmp.toString());
        pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
        Process server = pb.start();

        OutputStream stdin = server.getOutputStream();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (server.isAlive()) {
                try {
                    stdin.write(SERVER_SHUTDOWN_MARKER);
                    stdin.flush();
                } catch (IOException ignored) {
                    // the server is already gone
                }
                try {
                    server.waitFor();
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        }));
        try {
            OutputStreamStreamOutput out = new OutputStreamStreamOutput(stdin);
            args.writeTo(out);
            out.flush();
            // stdin is deliberately left open: closing it would stop the server.
        } catch (IOException e) {
            // The server died early; its reason is on its stderr, which is pumped below.
        }

        Thread pump = new Thread(() -> pumpStderr(server.getErrorStream()), "stderr-pump");
        pump.setDaemon(true);
        pump.start();
        int rc = server.waitFor();
        pump.join(2000);
        System.exit(rc);
    }

    /** Copy the server's stderr to ours, turning the ready marker into the ready file. */
    static void pumpStderr(InputStream err) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(err, StandardCharsets.UTF_8))) {
            boolean ready = false;
            int c;
            while ((c = r.read()) != -1) {
                if (c == SERVER_READY_MARKER && !ready) {
                    ready = true;
                    System.err.println("[launcher] server ready");
                    System.err.flush();
                    String readyFile = System.getenv("ES_LAUNCHER_READY_FILE");
                    if (readyFile != null) {
                        try {
                            Files.writeString(Paths.get(readyFile), "ready");
                        } catch (IOException ignored) {
                            // the caller then sees the process alive and keeps waiting; nothing better to do
                        }
                    }
                    continue;
                }
                if (c == USER_EXCEPTION_MARKER) {
                    continue;
                }
                System.err.write(c);
                if (c == '\n') {
                    System.err.flush();
                }
            }
            System.err.flush();
        } catch (IOException ignored) {
            // the server closed its stderr
        }
    }

    static void putSetting(Map<String, String> settings, String kv) {
        int i = kv.indexOf('=');
        if (i < 0) {
            throw new IllegalArgumentException("setting must be key=value: " + kv);
        }
        settings.put(kv.substring(0, i), kv.substring(i + 1));
    }

    static List<String> jvmOptions(Path home, Path conf, Path tmp) throws IOException {
        int feature = Runtime.version().feature();
        List<String> opts = new ArrayList<>();
        // What server-cli's SystemJvmOptions adds.
        opts.addAll(List.of(
            "-Des.networkaddress.cache.ttl=60", "-Des.networkaddress.cache.negative.ttl=10",
            "-XX:+AlwaysPreTouch", "-Xss1m", "-Djava.awt.headless=true", "-Dfile.encoding=UTF-8",
            "-Djna.nosys=true", "-XX:-OmitStackTraceInFastThrow",
            "-Dio.netty.noUnsafe=true", "-Dio.netty.noKeySetOptimization=true", "-Dio.netty.recycler.maxCapacityPerThread=0",
            "-Dlog4j.shutdownHookEnabled=false", "-Dlog4j2.disable.jmx=true", "-Dlog4j2.formatMsgNoLookups=true",
            "-Djava.locale.providers=CLDR",
            "-Dorg.apache.lucene.vectorization.upperJavaFeatureVersion=" + feature,
            "-Des.path.home=" + home, "-Des.path.conf=" + conf,
            "-Des.distribution.type=tar", "-Des.java.type=ES_JAVA_HOME",
            "-XX:ReplayDataFile=replay_pid%p.log",
            "--enable-native-access=org.elasticsearch.nativeaccess,org.apache.lucene.core",
            // 9.1 reads Lucene's (and older Lucene versions') vector formats by reflection; these opens
            // are what it needs and are harmless in releases that do not.
            "--add-opens=org.apache.lucene.core/org.apache.lucene.codecs.lucene99=org.elasticsearch.server",
            "--add-opens=org.apache.lucene.core/org.apache.lucene.internal.vectorization=org.elasticsearch.server",
            "--add-opens=org.apache.lucene.backward_codecs/org.apache.lucene.backward_codecs.lucene90=org.elasticsearch.server",
            "--add-opens=org.apache.lucene.backward_codecs/org.apache.lucene.backward_codecs.lucene91=org.elasticsearch.server",
            "--add-opens=org.apache.lucene.backward_codecs/org.apache.lucene.backward_codecs.lucene92=org.elasticsearch.server",
            "--add-opens=org.apache.lucene.backward_codecs/org.apache.lucene.backward_codecs.lucene94=org.elasticsearch.server",
            "--add-opens=org.apache.lucene.backward_codecs/org.apache.lucene.backward_codecs.lucene95=org.elasticsearch.server"));
        // Entitlements: the bridge is patched into java.base; the server loads the agent itself.
        Path bridgeDir = home.resolve("lib").resolve("entitlement-bridge");
        try (var s = Files.list(bridgeDir)) {
            List<Path> jars = s.filter(f -> f.toString().endsWith(".jar")).toList();
            if (jars.size() != 1) {
                throw new IllegalStateException("expected exactly one jar in " + bridgeDir);
            }
            opts.addAll(List.of("-XX:+EnableDynamicAgentLoading", "-Djdk.attach.allowAttachSelf=true",
                "--patch-module=java.base=" + jars.get(0),
                "--add-exports=java.base/org.elasticsearch.entitlement.bridge=org.elasticsearch.entitlement,"
                    + "java.logging,java.net.http,java.naming,jdk.net,jdk.zipfs,jdk.management.agent"));
        }
        // config/jvm.options, then jvm.options.d/*.options in name order; "N:", "N-:", "N-M:"
        // prefixes restrict a line to those Java feature versions.
        List<Path> files = new ArrayList<>();
        files.add(conf.resolve("jvm.options"));
        Path d = conf.resolve("jvm.options.d");
        if (Files.isDirectory(d)) {
            try (var s = Files.list(d)) {
                s.filter(f -> f.toString().endsWith(".options")).sorted().forEach(files::add);
            }
        }
        Pattern versioned = Pattern.compile("^(\\d+)(-)?(\\d+)?:(.*)$");
        List<String> userOpts = new ArrayList<>();
        for (Path f : files) {
            if (!Files.exists(f)) {
                continue;
            }
            for (String line : Files.readAllLines(f)) {
                line = line.strip();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                Matcher m = versioned.matcher(line);
                if (m.matches()) {
                    int lo = Integer.parseInt(m.group(1));
                    boolean range = m.group(2) != null;
                    int hi = m.group(3) != null ? Integer.parseInt(m.group(3)) : (range ? Integer.MAX_VALUE : lo);
                    if (feature < lo || feature > hi) {
                        continue;
                    }
                    line = m.group(4).strip();
                }
                userOpts.add(line);
            }
        }
        String esJavaOpts = System.getenv("ES_JAVA_OPTS");
        if (esJavaOpts != null && !esJavaOpts.isBlank()) {
            userOpts.addAll(Arrays.asList(esJavaOpts.strip().split("\\s+")));
        }
        for (String o : userOpts) {
            opts.add(o.replace("${ES_TMPDIR}", tmp.toString()));
        }
        // server-cli sizes the heap from the machine; here a fixed 1g unless told otherwise.
        if (opts.stream().noneMatch(o -> o.startsWith("-Xmx") || o.startsWith("-XX:MaxHeapSize"))) {
            opts.addAll(List.of("-Xms1g", "-Xmx1g"));
        }
        if (opts.stream().noneMatch(o -> o.startsWith("-XX:MaxDirectMemorySize"))) {
            long heap = 1L << 30;
            for (String o : opts) {
                if (o.startsWith("-Xmx")) {
                    heap = parseSize(o.substring(4));
                }
            }
            opts.add("-XX:MaxDirectMemorySize=" + heap / 2);
        }
        if (opts.stream().noneMatch(o -> o.startsWith("-Djava.io.tmpdir"))) {
            opts.add("-Djava.io.tmpdir=" + tmp);
        }
        return opts;
    }

    static long parseSize(String s) {
        char u = Character.toLowerCase(s.charAt(s.length() - 1));
        long mult = switch (u) {
            case 'k' -> 1L << 10;
            case 'm' -> 1L << 20;
            case 'g' -> 1L << 30;
            case 't' -> 1L << 40;
            default -> 1;
        };
        return Long.parseLong(Character.isDigit(u) ? s : s.substring(0, s.length() - 1)) * mult;
    }
}
