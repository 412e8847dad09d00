package dev.strata.core;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints byte sizes such as {@code 64MiB}, {@code 1G}, {@code 4096}. Binary units throughout. */
public final class ByteSize {
    private static final Pattern FORMAT = Pattern.compile("(\\d+)\\s*([kmgtp]?)(i?b)?", Pattern.CASE_INSENSITIVE);

    private ByteSize() {}

    public static long parse(String text) {
        Matcher m = FORMAT.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a byte size: '" + text + "' (examples: 4096, 64KiB, 512M, 1G)");
        }
        long value;
        try {
            value = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("byte size too large: '" + text + "'");
        }
        int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "" -> 0;
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            case "p" -> 50;
            default -> throw new IllegalArgumentException("unknown unit in '" + text + "'");
        };
        if (value > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("byte size too large: '" + text + "'");
        }
        return value << shift;
    }

    public static String format(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = 0;
        while (Math.abs(v) >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
