/** JMH benchmarks and peer adapters. */
package dev.strata.bench;
