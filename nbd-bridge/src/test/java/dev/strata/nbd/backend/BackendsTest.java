package dev.strata.nbd.backend;

import dev.strata.nbd.Backend;
import dev.strata.testkit.RedisTestServer;
import dev.strata.testkit.S3TestServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** The backend contract run against every backend. */
class BackendsTest {
    static Path tmp() throws Exception {
        return Files.createTempDirectory("nbd-backend");
    }

    static void delete(Path dir) throws Exception {
        if (dir != null && Files.exists(dir)) {
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    @Nested
    class ManagedMountOverMemory extends BackendContract {
        MemoryBackend remote;

        @Override
        Backend open() {
            remote = new MemoryBackend(SIZE);
            return new dev.strata.nbd.mount.ManagedMount(remote, new dev.strata.nbd.mount.MountConfig(65536, 2, 2, 4, 4,
                    java.time.Duration.ofMillis(5), 4, null));
        }

        @Override
        void cleanup() {
            remote.close();
        }
    }

    @Nested
    class Partition extends BackendContract {
        Path dir;

        @Override
        Backend open() throws Exception {
            dir = tmp();
            return new PartitionBackend(dev.strata.compute.PageStore.open(dir,
                    dev.strata.compute.PageStoreConfig.defaults().withPool(64L << 20).withCapacity(64L << 20)), SIZE);
        }

        @Override
        void cleanup() throws Exception {
            delete(dir);
        }

        @org.junit.jupiter.api.Test
        void fuaWritesSurviveReopen() throws Exception {
            byte[] d = new byte[10_000];
            new java.util.Random(9).nextBytes(d);
            backend.writeDurable(4000, java.lang.foreign.MemorySegment.ofArray(d));
            write(200_000, new byte[] {1, 2, 3});
            backend.sync();
            backend.close();
            backend = new PartitionBackend(dev.strata.compute.PageStore.open(dir,
                    dev.strata.compute.PageStoreConfig.defaults().withPool(64L << 20).withCapacity(64L << 20)), SIZE);
            org.junit.jupiter.api.Assertions.assertArrayEquals(d, read(4000, d.length));
            org.junit.jupiter.api.Assertions.assertArrayEquals(new byte[] {1, 2, 3}, read(200_000, 3));
        }
    }

    @Nested
    class RemoteNbdExport extends BackendContract {
        MemoryBackend served;
        dev.strata.nbd.NbdServer server;

        @Override
        Backend open() throws Exception {
            served = new MemoryBackend(SIZE);
            server = dev.strata.nbd.NbdServer.start(0, new dev.strata.nbd.Export("r", "", served, false));
            return new NbdRemoteBackend("127.0.0.1", server.port(), "r", 4);
        }

        @Override
        void cleanup() {
            server.close();
            served.close();
        }
    }

    @Nested
    class Memory extends BackendContract {
        @Override
        Backend open() {
            return new MemoryBackend(SIZE);
        }
    }

    @Nested
    class File extends BackendContract {
        Path dir;

        @Override
        Backend open() throws Exception {
            dir = tmp();
            return new FileBackend(dir.resolve("disk.img"), SIZE, false);
        }

        @Override
        void cleanup() throws Exception {
            delete(dir);
        }
    }

    @Nested
    class DirectoryOfChunks extends BackendContract {
        Path dir;

        @Override
        Backend open() throws Exception {
            dir = tmp();
            return new ChunkedBackend(new DirChunkStore(dir, 65536, SIZE / 65536), SIZE);
        }

        @Override
        void cleanup() throws Exception {
            delete(dir);
        }
    }

    @Nested
    class S3 extends BackendContract {
        static S3TestServer server;
        static int n;

        @BeforeAll
        static void startS3() throws Exception {
            server = S3TestServer.start("nbd");
        }

        @AfterAll
        static void stopS3() throws Exception {
            server.close();
        }

        static S3Client client(URI endpoint) {
            return S3Client.builder().endpointOverride(endpoint).forcePathStyle(true)
                    .requestChecksumCalculation(software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
                    .responseChecksumValidation(software.amazon.awssdk.core.checksums.ResponseChecksumValidation.WHEN_REQUIRED).region(Region.US_EAST_1)
                    .httpClientBuilder(Apache5HttpClient.builder().expectContinueEnabled(false))
                    .credentialsProvider(StaticCredentialsProvider.create(
                            AwsBasicCredentials.create(S3TestServer.ACCESS_KEY, S3TestServer.SECRET_KEY)))
                    .build();
        }

        @Override
        int rounds() {
            return 16;
        }

        @Override
        Backend open() {
            return new ChunkedBackend(new S3ChunkStore(client(server.endpoint()), "nbd", "disk" + (n++), 65536,
                    SIZE / 65536), SIZE);
        }
    }

    @Nested
    class Redis extends BackendContract {
        RedisTestServer server;

        @Override
        Backend open() throws Exception {
            Assumptions.assumeTrue(RedisTestServer.available(), "redis-server not installed (apt-get install redis-server)");
            server = RedisTestServer.start();
            return new ChunkedBackend(new RedisChunkStore("127.0.0.1", server.port(), "disk", 65536,
                    SIZE / 65536, 4), SIZE);
        }

        @Override
        void cleanup() throws Exception {
            if (server != null) {
                server.close();
            }
        }
    }
}
