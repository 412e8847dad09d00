/** Test-only helpers shared by modules: the TCP delay proxy of DESIGN §11, an in-process S3-compatible server. */
package dev.strata.testkit;
