package dev.strata.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class WireTunableTest {
    private static final String NAME = "strata.nbd.test.tunable";

    @AfterEach
    void clear() {
        System.clearProperty(NAME);
    }

    @Test
    void unsetIsTheDefaultAndAValueInRangeIsTaken() {
        assertEquals(64, Wire.tunable(NAME, 64, 1, 1024));
        System.setProperty(NAME, " 128 ");
        assertEquals(128, Wire.tunable(NAME, 64, 1, 1024));
    }

    @Test
    void aBrokenValueFailsNamingTheProperty() {
        System.setProperty(NAME, "64k");
        var e = assertThrows(IllegalArgumentException.class, () -> Wire.tunable(NAME, 64, 1, 1024));
        assertTrue(e.getMessage().contains(NAME) && e.getMessage().contains("'64k'"), e.getMessage());
        System.setProperty(NAME, "0");
        e = assertThrows(IllegalArgumentException.class, () -> Wire.tunable(NAME, 64, 1, 1024));
        assertTrue(e.getMessage().contains("[1, 1024], got 0"), e.getMessage());
        System.setProperty(NAME, "4096");
        assertThrows(IllegalArgumentException.class, () -> Wire.tunable(NAME, 64, 1, 1024));
    }
}
