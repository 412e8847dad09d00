package dev.strata.storage;

/**
 * Out-of-band metadata of one page head in a {@link PageFile}.
 *
 * @param pageNo    the page (its first 4 KiB slot)
 * @param lsn       LSN of the newest change in the stored image, 0 if never written
 * @param crc       CRC32C of the stored image
 * @param sizeClass size class the page was written with
 * @param allocated whether the page is live (written and not freed)
 */
public record PageMeta(long pageNo, long lsn, int crc, int sizeClass, boolean allocated) {}
