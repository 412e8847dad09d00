package dev.strata.nbd;

import dev.strata.core.ByteSize;
import dev.strata.nbd.backend.ChunkedBackend;
import dev.strata.nbd.backend.DirChunkStore;
import dev.strata.nbd.backend.RedisChunkStore;
import dev.strata.nbd.backend.S3ChunkStore;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;

/**
 * Chunk-store backends from specs; every one takes {@code size=} (default 1G) and {@code chunk=}
 * (default 1M):
 *
 * <pre>
 *   partition:DIR[?size=..&amp;pool=256M]   a Strata PageStore (its default partition, 4 KiB pages)
 *   dir:PATH[?size=..&amp;chunk=..]
 *   s3://BUCKET/PREFIX?endpoint=http://host:port&amp;region=..&amp;access=..&amp;secret=..
 *   redis://HOST:PORT/PREFIX[?connections=8]
 *   nbd://HOST:PORT/EXPORT[?connections=8]       another NBD server (size from the server)
 *   memnode://HOST:PORT/KEY?size=..             an existing memory node region (KEY, unsigned decimal, and its length)
 *   memnode://HOST:PORT?size=..                 a new region on that memory node, freed on close
 * </pre>
 */
final class BackendSpecs {
    private BackendSpecs() {}

    static Backend open(String spec, boolean readOnly) throws IOException {
        String base = spec;
        Map<String, String> q = new HashMap<>();
        int qm = spec.indexOf('?');
        if (qm >= 0) {
            base = spec.substring(0, qm);
            for (String kv : spec.substring(qm + 1).split("&")) {
                int eq = kv.indexOf('=');
                q.put(eq < 0 ? kv : kv.substring(0, eq), eq < 0 ? "" : kv.substring(eq + 1));
            }
        }
        long size = ByteSize.parse(q.getOrDefault("size", "1G"));
        int chunk = (int) ByteSize.parse(q.getOrDefault("chunk", "1M"));
        long chunks = (size + chunk - 1) / chunk;
        if (base.startsWith("partition:")) {
            // only the config's withers are used: its record components change as compute grows
            dev.strata.compute.PageStoreConfig pc = dev.strata.compute.PageStoreConfig.defaults()
                    .withCapacity(Math.max(size, 64L << 20) * 2);
            if (q.containsKey("pool")) {
                pc = pc.withPool(ByteSize.parse(q.get("pool")));
            }
            return new dev.strata.nbd.backend.PartitionBackend(
                    dev.strata.compute.PageStore.open(Path.of(base.substring(10)), pc), size);
        }
        if (base.startsWith("nbd://")) {
            URI u = URI.create(base);
            String export = u.getPath() == null || u.getPath().length() <= 1 ? "" : u.getPath().substring(1);
            return new dev.strata.nbd.backend.NbdRemoteBackend(u.getHost(), u.getPort() < 0 ? 10809 : u.getPort(),
                    export, Integer.parseInt(q.getOrDefault("connections", "8")));
        }
        if (base.startsWith("memnode://")) {
            URI u = URI.create(base);
            if (u.getHost() == null || u.getPort() < 0) {
                throw new IllegalArgumentException("memnode spec needs HOST:PORT: " + spec);
            }
            if (!q.containsKey("size")) {
                throw new IllegalArgumentException("memnode spec needs size= (the region's length): " + spec);
            }
            String path = u.getPath() == null ? "" : u.getPath().replaceFirst("^/", "");
            java.util.OptionalLong key;
            try {
                key = path.isEmpty() ? java.util.OptionalLong.empty()
                        : java.util.OptionalLong.of(path.startsWith("-") ? Long.parseLong(path) : Long.parseUnsignedLong(path));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("memnode region key must be a decimal number: " + path, e);
            }
            return dev.strata.nbd.backend.RegionBackend.open(new java.net.InetSocketAddress(u.getHost(), u.getPort()), key,
                    size, java.time.Duration.ofSeconds(10));
        }
        if (base.startsWith("dir:")) {
            return new ChunkedBackend(new DirChunkStore(Path.of(base.substring(4)), chunk, chunks), size);
        }
        if (base.startsWith("s3://")) {
            URI u = URI.create(base);
            String prefix = u.getPath() == null ? "" : u.getPath().replaceFirst("^/", "");
            return new ChunkedBackend(new S3ChunkStore(s3(q), u.getHost(), prefix, chunk, chunks), size);
        }
        if (base.startsWith("redis://")) {
            URI u = URI.create(base);
            String prefix = u.getPath() == null || u.getPath().length() <= 1 ? "nbd" : u.getPath().substring(1);
            int conns = Integer.parseInt(q.getOrDefault("connections", "8"));
            return new ChunkedBackend(new RedisChunkStore(u.getHost(), u.getPort() < 0 ? 6379 : u.getPort(),
                    prefix, chunk, chunks, conns), size);
        }
        throw new IllegalArgumentException("unknown backend spec: " + spec
                + " (memory:SIZE, file:PATH[:SIZE], dir:PATH, s3://BUCKET/PREFIX, redis://HOST:PORT/PREFIX,"
                + " nbd://HOST:PORT/EXPORT, memnode://HOST:PORT[/KEY]?size=SIZE, partition:DIR)");
    }

    /** An S3 client: path-style, Apache HTTP client with 128 connections, explicit or default credentials. */
    static S3Client s3(Map<String, String> q) {
        S3ClientBuilder b = S3Client.builder()
                .httpClientBuilder(Apache5HttpClient.builder().maxConnections(128).expectContinueEnabled(false))
                .region(Region.of(q.getOrDefault("region", "us-east-1")))
                .forcePathStyle(true)
                    .requestChecksumCalculation(software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
                    .responseChecksumValidation(software.amazon.awssdk.core.checksums.ResponseChecksumValidation.WHEN_REQUIRED);
        if (q.containsKey("endpoint")) {
            b.endpointOverride(URI.create(q.get("endpoint")));
        }
        if (q.containsKey("access")) {
            b.credentialsProvider(StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(q.get("access"), q.getOrDefault("secret", ""))));
        } else {
            b.credentialsProvider(DefaultCredentialsProvider.builder().build());
        }
        return b.build();
    }
}
