import { describe, expect, it } from "@jest/globals";
import { detect, isDetectorName, type DetectorName } from "./detectors.js";

const found = (name: DetectorName, text: string): string[] => detect(name, text).map(({ start, end }) => text.slice(start, end));

// A JWT whose header is {"alg":"HS256","typ":"JWT"}, and one whose header is JSON without alg.
const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const NO_ALG = `${Buffer.from('{"typ":"JWT"}').toString("base64url")}.eyJzdWIiOiIxIn0.c2ln`;

// [detector, text, the parts it must find]
const positives: [DetectorName, string, string[]][] = [
  ["email", "jane.doe+shop@mail.example.co.uk", ["jane.doe+shop@mail.example.co.uk"]],
  ["email", "Contact jane@example.com, or bob@test.org.", ["jane@example.com", "bob@test.org"]],
  ["phone", "+14155552671", ["+14155552671"]],
  ["phone", "call +44 20 7946 0958 today", ["+44 20 7946 0958"]],
  ["phone", "+1 (555) 123-4567", ["+1 (555) 123-4567"]],
  ["phone", "office: (555) 123-4567.", ["(555) 123-4567"]],
  ["phone", "555-123-4567 on 2024-11-05", ["555-123-4567"]],
  ["phone", "555.123.4567", ["555.123.4567"]],
  ["phone", "UK 020 7946 0958", ["020 7946 0958"]],
  ["phone", "1-555-123-4567", ["1-555-123-4567"]],
  ["creditCard", "4111111111111111", ["4111111111111111"]],
  ["creditCard", "card 4111 1111 1111 1111 exp 12/27", ["4111 1111 1111 1111"]],
  ["creditCard", "5500-0000-0000-0004", ["5500-0000-0000-0004"]],
  ["creditCard", "amex 3782 822463 10005", ["3782 822463 10005"]],
  ["creditCard", "ref 12 4111 1111 1111 1111", ["4111 1111 1111 1111"]],
  ["creditCard", "4111111111111111,5500000000000004", ["4111111111111111", "5500000000000004"]],
  ["iban", "DE89370400440532013000", ["DE89370400440532013000"]],
  ["iban", "pay to DE89 3704 0044 0532 0130 00.", ["DE89 3704 0044 0532 0130 00"]],
  ["iban", "GB82 WEST 1234 5698 7654 32", ["GB82 WEST 1234 5698 7654 32"]],
  ["iban", "ES91 2100 0418 4502 0005 1332 ABCD", ["ES91 2100 0418 4502 0005 1332"]],
  ["iban", "NO9386011117947", ["NO9386011117947"]],
  ["usSSN", "123-45-6789", ["123-45-6789"]],
  ["usSSN", "SSN: 078 05 1120.", ["078 05 1120"]],
  ["ipAddress", "from 192.168.1.20:5432", ["192.168.1.20"]],
  ["ipAddress", "255.255.255.255 and 10.0.0.1.", ["255.255.255.255", "10.0.0.1"]],
  ["ipAddress", "net 10.1.2.0/24", ["10.1.2.0"]],
  ["ipAddress", "v6 2001:db8::8a2e:370:7334 ok", ["2001:db8::8a2e:370:7334"]],
  ["ipAddress", "::1", ["::1"]],
  ["ipAddress", "mapped ::ffff:10.0.0.1", ["::ffff:10.0.0.1"]],
  ["ipAddress", "peer fe80::1%eth0", ["fe80::1"]],
  ["ipAddress", "host 2001:db8::1: down", ["2001:db8::1"]],
  ["jwt", `Authorization: Bearer ${JWT}`, [JWT]],
  ["apiKey", "key sk_live_4eC39HqLyjWDarjtT1zdp7dc", ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"]],
  ["apiKey", "sk_test_4eC39HqLyjWDarjtT1zdp7dc pk_live_abcdefghij12", ["sk_test_4eC39HqLyjWDarjtT1zdp7dc", "pk_live_abcdefghij12"]],
  ["apiKey", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"]],
  ["apiKey", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", ["github_pat_11ABCDEFG0123456789_abcdefghijklmnop"]],
  ["apiKey", "aws AKIAIOSFODNN7EXAMPLE", ["AKIAIOSFODNN7EXAMPLE"]],
  ["apiKey", "xoxb-123456789012-abcdefABCDEF", ["xoxb-123456789012-abcdefABCDEF"]],
  ["apiKey", "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", ["AIzaSyA-abcdefghijklmnopqrstuvwxyz01234"]],
  ["apiKey", "api_key=Zm9vYmFyYmF6cXV4", ["Zm9vYmFyYmF6cXV4"]],
  ["apiKey", 'STRIPE_API_KEY: "abcd1234efgh5678"', ["abcd1234efgh5678"]],
  ["apiKey", '{"apiKey": "abcd1234efgh5678"}', ["abcd1234efgh5678"]],
  ["apiKey", "X-Api-Key: abcd1234efgh5678", ["abcd1234efgh5678"]],
];

// The published test numbers of the card networks, valid SSNs, and phone numbers as countries write them.
positives.push(
  ["creditCard", "visa 4012 8888 8888 1881", ["4012 8888 8888 1881"]],
  ["creditCard", "mc 5555 5555 5555 4444 and 5105105105105100", ["5555 5555 5555 4444", "5105105105105100"]],
  ["creditCard", "amex 378282246310005, 3714 496353 98431", ["378282246310005", "3714 496353 98431"]],
  ["creditCard", "discover 6011 1111 1111 1117 / 6011000990139424", ["6011 1111 1111 1117", "6011000990139424"]],
  ["creditCard", "diners 3056 9309 0259 04", ["3056 9309 0259 04"]],
  ["creditCard", "jcb 3530111333300000", ["3530111333300000"]],
  ["usSSN", "219-09-9999 and 457-55-5462", ["219-09-9999", "457-55-5462"]],
  ["phone", "US (555) 123-4567", ["(555) 123-4567"]],
  ["phone", "DE 030 1234567, +49 30 1234567", ["030 1234567", "+49 30 1234567"]],
  ["phone", "FR 01 23 45 67 89 ou +33 1 23 45 67 89", ["01 23 45 67 89", "+33 1 23 45 67 89"]],
  ["phone", "JP 03-1234-5678", ["03-1234-5678"]],
  ["phone", "AU 0412 345 678", ["0412 345 678"]],
  ["phone", "IN +91 98765 43210", ["+91 98765 43210"]],
  ["phone", "BR (11) 91234-5678", ["(11) 91234-5678"]],
);

// [detector, text that must be left alone, why]
const negatives: [DetectorName, string, string][] = [
  ["email", "user at example dot com", "no @"],
  ["email", "@handle and a@b", "no domain with a dot"],
  ["phone", "order 123456789", "a bare digit run"],
  ["phone", "order 2024-11-5821", "an order number with a date prefix"],
  ["phone", "2024-11-05 12:30:45", "a timestamp"],
  ["phone", "123-45-6789", "an SSN shape"],
  ["phone", "192.168.100.200", "an IPv4 address"],
  ["phone", "total 1.234.567 and 1 234 567", "thousands separators"],
  ["phone", "pi is 3.1415926", "a decimal number"],
  ["phone", "+12345", "too few digits after +"],
  ["phone", "version 1.2.3.4.5", "a version"],
  ["creditCard", "4111111111111112", "Luhn-invalid"],
  ["creditCard", "4111 1111 1111 1112", "Luhn-invalid with spaces"],
  ["creditCard", "41111111111111111111111", "a longer digit run"],
  ["creditCard", "id_4111111111111111", "part of a word"],
  ["creditCard", "order 123456789012", "too short"],
  ["iban", "DE89370400440532013001", "bad checksum"],
  ["iban", "DE00 3704 0044 0532 0130 00", "check digits 00"],
  ["iban", "XDE89370400440532013000", "part of a longer word"],
  ["iban", "ABCD 1234 5678", "too short"],
  ["usSSN", "000-12-3456", "area 000"],
  ["usSSN", "666-12-3456", "area 666"],
  ["usSSN", "912-12-3456", "area 9xx"],
  ["usSSN", "123-00-4567", "group 00"],
  ["usSSN", "123-45-0000", "serial 0000"],
  ["usSSN", "123456789", "no separators"],
  ["usSSN", "order 2024-11-5821", "an order number"],
  ["usSSN", "1234-56-78901", "part of a longer number"],
  ["ipAddress", "version 1.2.3.4.5", "a version with five parts"],
  ["ipAddress", "release 1.2.3", "a version"],
  ["ipAddress", "256.1.1.1 and 1.2.3.999", "an octet above 255"],
  ["ipAddress", "01.02.03.04", "leading zeros"],
  ["ipAddress", "at 12:30:45.123", "a time"],
  ["ipAddress", "mac 00:1a:2b:3c:4d:5e", "a MAC address"],
  ["ipAddress", "std::vector and a :: b", "C++ scope and bare ::"],
  ["ipAddress", "2024-11-05T12:30:45Z", "a timestamp"],
  ["jwt", `token ${NO_ALG}`, "header without alg"],
  ["jwt", "eyJub3QganNvbg.eyJ4IjoxfQ.sig", "header that is not JSON"],
  ["jwt", "eyJhbGciOiJIUzI1NiJ9.only-two-parts", "two segments"],
  ["apiKey", "the api is down", "a label without a value"],
  ["apiKey", "api_key=short", "a value too short to be a key"],
  ["apiKey", "mysk_live_4eC39HqLyjWDarjtT1zdp7dc", "a prefix inside a word"],
  ["apiKey", "AKIAIOSFODNN7EXAMPLEX", "AWS key id of the wrong length"],
  // Whole values only: no detector claims part of a longer number written in groups.
  ["phone", "4111 1111 1111 1112", "a 16-digit grouped number (failing Luhn), whose first 12 digits look like a phone"],
  ["phone", "1111 1111 1112", "the last groups of a longer number"],
  ["creditCard", "4111 1111 1111 1111 2222", "the first groups of a 20-digit number"],
  ["creditCard", "1234 5678 4111 1111 1111 1111", "the last groups of a 24-digit number in groups of four"],
  ["usSSN", "123 45 6789 0", "the first groups of a longer number"],
  ["usSSN", "0 123 45 6789", "the last groups of a longer number"],
  // Order and tracking numbers.
  ["phone", "FedEx 7489 2345 6789", "a tracking number in groups of four"],
  ["creditCard", "USPS 9400 1000 0000 0000 0000 00", "a 22-digit tracking number"],
  ["phone", "USPS 9400 1000 0000 0000 0000 00", "a 22-digit tracking number"],
  ["phone", "UPS 1Z999AA10123456784", "a UPS tracking number"],
  ["creditCard", "UPS 1Z999AA10123456784", "a UPS tracking number"],
  ["phone", "order 112-1234567-1234567", "an Amazon order number"],
  ["phone", "ORD-2024-000123 and INV 2024 0001 2345", "order and invoice numbers"],
  ["phone", "ISBN 978-3-16-148410-0", "an ISBN"],
  ["usSSN", "part 123-45-6789-01", "a part number"],
];

describe("detectors", () => {
  it.each(positives)("%s finds its content in %j", (name, text, expected) => {
    expect(found(name, text)).toEqual(expected);
  });

  it.each(negatives)("%s leaves %j alone (%s)", (name, text) => {
    expect(found(name, text)).toEqual([]);
  });

  it("finds an email in place inside longer text, with positions", () => {
    const text = "Ticket 4711: customer jane@example.com asked for a refund";
    const [span] = detect("email", text);
    expect(span).toEqual({ start: 22, end: 38 });
  });

  it("reports positions in UTF-16 units after characters outside the BMP", () => {
    const text = "🙂🙂 héllo jane@example.com 🙂 bob@example.org";
    expect(found("email", text)).toEqual(["jane@example.com", "bob@example.org"]);
  });

  it("knows exactly the detector names of the CRD", () => {
    const names = ["email", "phone", "creditCard", "iban", "usSSN", "ipAddress", "jwt", "apiKey"];
    expect(names.every(isDetectorName)).toBe(true);
    expect(["ssn", "toString", "constructor"].some(isDetectorName)).toBe(false);
  });
});
