package dev.strata.testkit;

import java.net.URI;
import java.util.Properties;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;

/**
 * A real S3-compatible HTTP server in-process: s3proxy over its transient (in-memory) blob store, on a
 * free loopback port, with AWS v2/v4 signatures checked against a fixed key pair. Closing stops it.
 */
public final class S3TestServer implements AutoCloseable {
    public static final String ACCESS_KEY = "strata-test";
    public static final String SECRET_KEY = "strata-test-secret";
    private final S3Proxy proxy;
    private final BlobStore store;
    private boolean closed;

    private S3TestServer(S3Proxy proxy, BlobStore store) {
        this.proxy = proxy;
        this.store = store;
    }

    /** Starts the server and creates {@code buckets}; waits (with a deadline) until it serves. */
    public static S3TestServer start(String... buckets) throws Exception {
        Properties props = new Properties();
        props.setProperty("jclouds.identity", ACCESS_KEY);
        props.setProperty("jclouds.credential", SECRET_KEY);
        BlobStore store = BlobStores.create("transient", props);
        for (String b : buckets) {
            store.createContainer(b);
        }
        S3Proxy proxy = S3Proxy.builder().blobStore(store).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .build();
        proxy.start();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                proxy.stop();
                throw new IllegalStateException("s3proxy did not start: " + proxy.getState());
            }
            Thread.onSpinWait();
            Thread.sleep(5);
        }
        return new S3TestServer(proxy, store);
    }

    /** {@code http://127.0.0.1:PORT}. */
    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + proxy.getPort());
    }

    public BlobStore blobStore() {
        return store;
    }

    @Override
    public synchronized void close() throws Exception {
        if (!closed) {
            closed = true;
            proxy.stop();
        }
    }
}
