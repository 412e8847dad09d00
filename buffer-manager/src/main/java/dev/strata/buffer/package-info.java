/** The buffer pool: vmcache-style off-heap page cache with latches, eviction and the PageSource SPI. */
package dev.strata.buffer;
