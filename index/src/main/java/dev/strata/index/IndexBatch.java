package dev.strata.index;

import dev.strata.index.internal.Msg;
import java.util.ArrayList;
import java.util.List;

/**
 * Operations applied together by {@link Index#apply(IndexBatch)}, in the order added. Not thread-safe.
 */
public final class IndexBatch {
    /**
     * The operations, as the messages the index applies (kind 1 put, 2 delete, 3 upsert): one object per
     * operation, which {@link Index#applyAsync} hands to the tree as they are.
     */
    final List<Msg> ops = new ArrayList<>();

    public IndexBatch put(byte[] key, byte[] value) {
        ops.add(new Msg(key, 1, 0, value));
        return this;
    }

    public IndexBatch delete(byte[] key) {
        ops.add(new Msg(key, 2, 0, null));
        return this;
    }

    public IndexBatch upsert(byte[] key, UpsertOperator operator, byte[] delta) {
        ops.add(new Msg(key, 3, operator.id(), delta));
        return this;
    }

    public int size() {
        return ops.size();
    }

    public void clear() {
        ops.clear();
    }
}
