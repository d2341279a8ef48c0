import { describe, expect, it } from "@jest/globals";
import { REDACTED, hash, nullify, partial, redact } from "./strategies.js";

const KEY_A = Buffer.from("0123456789abcdef0123456789abcdef");
const KEY_B = Buffer.from("fedcba9876543210fedcba9876543210");

describe("redact and nullify", () => {
  it("redact replaces a value and a part with the marker", () => {
    expect(redact.maskValue(Buffer.from("jane@example.com"))?.toString()).toBe(REDACTED);
    expect(redact.maskPart("jane@example.com")).toBe("***");
  });

  it("nullify makes the value SQL NULL, and a detected part nulls the whole value", () => {
    expect(nullify.maskValue(Buffer.from("x"))).toBeNull();
    expect(nullify.maskPart("x")).toBeNull();
  });
});

describe("partial", () => {
  it.each([
    [4, "4111111111111111", "************1111"],
    [4, "1234", "****"],
    [4, "12", "**"],
    [2, "héllo wörld", "*********ld"],
    [3, "日本語のテキスト", "*****キスト"],
    [1, "a😀b😀", "***😀"],
    [4, "", ""],
  ])("keepLast %d of %j → %j (characters, not bytes)", (keepLast, value, expected) => {
    const strategy = partial(keepLast);
    expect(strategy.maskPart(value)).toBe(expected);
    expect(strategy.maskValue(Buffer.from(value))?.toString("utf8")).toBe(expected);
  });
});

describe("hash", () => {
  it("gives hmac: and 16 hex digits, the same for equal values so joins still work", () => {
    const strategy = hash(KEY_A);
    const first = strategy.maskPart("jane@example.com");
    expect(first).toMatch(/^hmac:[0-9a-f]{16}$/);
    expect(strategy.maskPart("jane@example.com")).toBe(first);
    expect(hash(KEY_A).maskValue(Buffer.from("jane@example.com"))?.toString()).toBe(first);
  });

  it("gives different outputs for different values and for different keys", () => {
    const a = hash(KEY_A);
    expect(a.maskPart("jane@example.com")).not.toBe(a.maskPart("john@example.com"));
    expect(hash(KEY_B).maskPart("jane@example.com")).not.toBe(a.maskPart("jane@example.com"));
  });

  it("is HMAC-SHA256 of the value's UTF-8 bytes", () => {
    // echo -n 'jane@example.com' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
    expect(hash(KEY_A).maskPart("jane@example.com")).toBe("hmac:e54ecd8285defd5c");
    expect(hash(KEY_A).maskPart("jäne")).toBe(hash(KEY_A).maskValue(Buffer.from("jäne", "utf8"))?.toString());
  });
});
