package dev.strata.nbd.backend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;

/**
 * One S3 object per chunk, key {@code <prefix>/<16 hex digits>}; a missing object reads as zeros. A
 * run of chunks is fetched or stored with one request per object, all in parallel on virtual threads
 * (one round trip of latency for the whole run). A PUT acknowledged by S3 is durable, so
 * {@link #sync} has nothing left to do.
 */
public final class S3ChunkStore implements ChunkStore {
    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final int chunkSize;
    private final long chunks;
    private final ExecutorService io = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("nbd-s3-", 0).factory());

    /** Takes ownership of {@code s3}. */
    public S3ChunkStore(S3Client s3, String bucket, String prefix, int chunkSize, long chunks) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix.endsWith("/") || prefix.isEmpty() ? prefix : prefix + "/";
        this.chunkSize = chunkSize;
        this.chunks = chunks;
    }

    private String key(long chunk) {
        return prefix + String.format("%016x", chunk);
    }

    @Override
    public int chunkSize() {
        return chunkSize;
    }

    @Override
    public long chunks() {
        return chunks;
    }

    @Override
    public void read(long first, int count, MemorySegment dst) throws IOException {
        parallel(count, i -> {
            MemorySegment part = dst.asSlice((long) i * chunkSize, chunkSize);
            try {
                byte[] b = s3.getObjectAsBytes(r -> r.bucket(bucket).key(key(first + i))).asByteArrayUnsafe();
                int n = Math.min(b.length, chunkSize);
                MemorySegment.copy(b, 0, part, ValueLayout.JAVA_BYTE, 0, n);
                if (n < chunkSize) {
                    part.asSlice(n).fill((byte) 0);
                }
            } catch (NoSuchKeyException e) {
                part.fill((byte) 0);
            }
        });
    }

    @Override
    public void write(long first, int count, MemorySegment src) throws IOException {
        parallel(count, i -> {
            byte[] b = src.asSlice((long) i * chunkSize, chunkSize).toArray(ValueLayout.JAVA_BYTE);
            s3.putObject(r -> r.bucket(bucket).key(key(first + i)), RequestBody.fromBytes(b));
        });
    }

    @Override
    public void delete(long first, int count) throws IOException {
        List<ObjectIdentifier> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ids.add(ObjectIdentifier.builder().key(key(first + i)).build());
            if (ids.size() == 1000 || i == count - 1) {
                List<ObjectIdentifier> batch = List.copyOf(ids);
                s3.deleteObjects(r -> r.bucket(bucket).delete(Delete.builder().objects(batch).quiet(true).build()));
                ids.clear();
            }
        }
    }

    @Override
    public void sync() {}

    private interface ChunkTask {
        void run(int i) throws Exception;
    }

    private void parallel(int count, ChunkTask task) throws IOException {
        if (count == 1) {
            try {
                task.run(0);
                return;
            } catch (Exception e) {
                throw new IOException("S3 request failed", e);
            }
        }
        List<Future<?>> fs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int n = i;
            fs.add(io.submit(() -> {
                task.run(n);
                return null;
            }));
        }
        IOException failure = null;
        for (Future<?> f : fs) {
            try {
                f.get();
            } catch (ExecutionException e) {
                failure = failure != null ? failure : new IOException("S3 request failed", e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public void close() {
        io.close();
        s3.close();
    }
}
