import { describe, expect, it } from "vitest";
import { isCidr } from "../../../components/contract/cidr";

describe("isCidr", () => {
    it.each(["0.0.0.0/0", "203.0.113.0/24", "10.0.0.1/32", "2001:db8::/32", "::/0", "::ffff:192.0.2.0/120", "fe80::1/128"])("accepts %s", (c) => {
        expect(isCidr(c)).toBe(true);
    });
    it.each(["10.0.0.0", "10.0.0.0/33", "256.0.0.0/8", "10.0.0/8", "01.2.3.4/8", "2001:db8:::/32", "2001:db8::/129", "1:2:3:4:5:6:7:8:9/64", "abc/8", "10.0.0.0/8/8", " 10.0.0.0/8"])(
        "refuses %s",
        (c) => {
            expect(isCidr(c)).toBe(false);
        },
    );
});
