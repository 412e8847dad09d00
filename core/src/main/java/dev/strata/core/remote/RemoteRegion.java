package dev.strata.core.remote;

/**
 * A registered remote region: the key that names it in one-sided operations (an RDMA {@code rkey}
 * plus base address in a verbs transport) and its length in bytes.
 */
public record RemoteRegion(long key, long length) {
    public RemoteRegion {
        if (length <= 0) {
            throw new IllegalArgumentException("region length must be positive: " + length);
        }
    }
}
