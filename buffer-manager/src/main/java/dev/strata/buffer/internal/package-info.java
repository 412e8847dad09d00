/** Buffer pool internals: the page table of latch words, the resident-page set and the parking lot. */
package dev.strata.buffer.internal;
