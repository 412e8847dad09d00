/** The embedded PageStore API. */
package dev.strata.compute;
