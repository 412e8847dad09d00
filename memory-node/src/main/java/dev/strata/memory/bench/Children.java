package dev.strata.memory.bench;

import dev.strata.memory.MemoryNodeMain;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Peer processes of the benchmark, each ended by PID: a memory node JVM and a redis-server. */
final class Children {
    private Children() {}

    record Child(Process process, int port) implements AutoCloseable {
        @Override
        public void close() {
            process.destroy();
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static Child memoryNode(String capacity, int ioThreads, int pollMicros) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-XX:+UseParallelGC",
                "-cp", System.getProperty("java.class.path"), MemoryNodeMain.class.getName(),
                "--port", "0", "--capacity", capacity, "--io-threads", Integer.toString(ioThreads),
                "--poll-us", Integer.toString(pollMicros))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            int at = line.indexOf("memory-node listening on ");
            if (at >= 0) {
                int port = Integer.parseInt(line.substring(line.lastIndexOf(':') + 1).trim());
                Thread drain = new Thread(() -> {
                    try {
                        while (r.readLine() != null) {
                            // discard
                        }
                    } catch (IOException ignored) {
                        // ended
                    }
                }, "bench-node-stdout");
                drain.setDaemon(true);
                drain.start();
                return new Child(p, port);
            }
        }
        p.destroyForcibly();
        throw new IOException("memory node did not start");
    }

    static Child redis() throws IOException, InterruptedException {
        int port = freePort();
        Process p = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--protected-mode", "no", "--maxmemory", "0")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
                byte[] b = s.getInputStream().readNBytes(7);
                if (new String(b, StandardCharsets.US_ASCII).equals("+PONG\r\n")) {
                    return new Child(p, port);
                }
            } catch (IOException notYet) {
                Thread.sleep(20);
            }
        }
        p.destroyForcibly();
        throw new IOException("redis-server did not start");
    }
}
