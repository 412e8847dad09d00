package dev.strata.migration.uffd;

import dev.strata.testkit.S3TestServer;

/**
 * testkit's S3-compatible server in its own process: prints its endpoint on stdout, runs until
 * stdin closes. The uffd-over-S3 test needs the server outside the JVM that touches the mapping:
 * a thread faulting in Java code blocks every safepoint of its JVM, so an in-process server would
 * stop answering the helper at the next GC (DESIGN §8's deadlock, one hop removed).
 */
public final class S3ServerMain {
    private S3ServerMain() {}

    public static void main(String[] args) throws Exception {
        S3TestServer s3 = S3TestServer.start(args);
        try {
            System.out.println("ENDPOINT " + s3.endpoint());
            System.out.flush();
            while (System.in.read() >= 0) {
                // until the parent closes our stdin (or dies)
            }
        } finally {
            s3.close();
        }
        System.exit(0);
    }
}
