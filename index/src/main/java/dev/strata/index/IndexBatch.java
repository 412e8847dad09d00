package dev.strata.index;

import java.util.ArrayList;
import java.util.List;

/**
 * Operations applied together by {@link Index#apply(IndexBatch)}, in the order added. Not thread-safe.
 */
public final class IndexBatch {
    /** One operation; {@code kind} is 1 put, 2 delete, 3 upsert. */
    record Op(int kind, byte[] key, byte[] value, int operator) {}

    final List<Op> ops = new ArrayList<>();

    public IndexBatch put(byte[] key, byte[] value) {
        ops.add(new Op(1, key, value, 0));
        return this;
    }

    public IndexBatch delete(byte[] key) {
        ops.add(new Op(2, key, null, 0));
        return this;
    }

    public IndexBatch upsert(byte[] key, UpsertOperator operator, byte[] delta) {
        ops.add(new Op(3, key, delta, operator.id()));
        return this;
    }

    public int size() {
        return ops.size();
    }

    public void clear() {
        ops.clear();
    }
}
