/** JMH benchmarks and peer adapters ({@code KvEngine}: Strata's index, RocksDB, LMDB behind one interface). */
package dev.strata.bench;
