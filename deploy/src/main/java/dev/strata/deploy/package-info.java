/** The strata command-line interface. */
package dev.strata.deploy;
