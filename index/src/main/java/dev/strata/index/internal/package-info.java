/**
 * Implementation of the index: node page layout ({@code NodeLayout}), decoded nodes for writers
 * ({@code Node}, {@code Msg}), in-place edits of a latched page for small merges ({@code NodeEdit}),
 * the writer's latched transaction ({@code Txn}), overflow value chains, the catalog of named indexes
 * and the tree itself ({@code BeTree}).
 */
package dev.strata.index.internal;
