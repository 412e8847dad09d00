package dev.strata.index;

import dev.strata.index.internal.Msg;
import dev.strata.index.internal.NodeLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Operations applied together by {@link Index#apply(IndexBatch)}, in the order added. Not thread-safe.
 */
public final class IndexBatch {
    /**
     * The operations, as the messages the index applies: one object per operation, which
     * {@link Index#applyAsync} hands to the tree as they are.
     */
    final List<Msg> ops = new ArrayList<>();

    public IndexBatch put(byte[] key, byte[] value) {
        ops.add(new Msg(key, NodeLayout.PUT, 0, value));
        return this;
    }

    public IndexBatch delete(byte[] key) {
        ops.add(new Msg(key, NodeLayout.DELETE, 0, null));
        return this;
    }

    public IndexBatch upsert(byte[] key, UpsertOperator operator, byte[] delta) {
        ops.add(new Msg(key, NodeLayout.UPSERT, operator.id(), delta));
        return this;
    }

    public int size() {
        return ops.size();
    }

    public void clear() {
        ops.clear();
    }
}
