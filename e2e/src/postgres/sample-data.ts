// Sample data for the gateway's policy and masking tests: customers with
// personal data in dedicated columns and in free text (emails, phone numbers,
// SSNs, Luhn-valid card numbers, IBANs with valid check digits), order numbers
// that look like SSNs or card fragments but are not, and orders referencing
// them. The rows are exported so tests can compare what the gateway returns
// with what is stored.
import type { CommandResult } from "../processes/child-process.js";
import type { PostgresLogin } from "./server.js";

export interface SampleCustomer {
  name: string;
  email: string | null;
  phone: string | null;
  ssn: string | null;
  card: string | null;
  iban: string | null;
  orderNumber: string | null;
  note: string | null;
}

/** Inserted in this order, so customer i (from 0) has id i + 1. */
export const SAMPLE_CUSTOMERS: readonly SampleCustomer[] = [
  { name: "Maria Garcia", email: "maria.garcia@example.com", phone: "+1 415-555-0134", ssn: "536-22-8741", card: "4111111111111111", iban: null, orderNumber: "123456789", note: "Prefers contact by email" },
  { name: "James O'Brien", email: "james.obrien@example.org", phone: "+353 1 555 0172", ssn: null, card: "5500005555555559", iban: "IE29AIBK93115212345678", orderNumber: "ORD-2024-11-5821", note: "Called from +353 1 555 0172 about a late delivery" },
  { name: "Li Wei", email: "li.wei@example.net", phone: "+86 10 5555 0101", ssn: null, card: null, iban: null, orderNumber: "ORD-2024-12-0007", note: null },
  { name: "Sophie Müller", email: "sophie.mueller@example.de", phone: "+49 30 5555 0199", ssn: null, card: "4012888888881881", iban: "DE89370400440532013000", orderNumber: "987654321", note: "Refund to DE89 3704 0044 0532 0130 00 agreed" },
  { name: "Ahmed Hassan", email: "ahmed.hassan@example.com", phone: "(212) 555-0198", ssn: "219-45-3310", card: "378282246310005", iban: null, orderNumber: "ORD-2025-01-0042", note: "SSN 219-45-3310 verified by phone" },
  { name: "Emma Johnson", email: "emma.j@example.com", phone: "+1 646-555-0117", ssn: "401-73-9925", card: "6011111111111117", iban: null, orderNumber: "555012345", note: "VIP" },
  { name: "Lucas Martin", email: "lucas.martin@example.fr", phone: "+33 1 55 55 01 23", ssn: null, card: null, iban: "FR1420041010050500013M02606", orderNumber: "ORD-2025-02-1188", note: "Invoice address differs from delivery address" },
  { name: "Sanne de Vries", email: "sanne.devries@example.nl", phone: "+31 20 555 0144", ssn: null, card: "5105105105105100", iban: "NL91ABNA0417164300", orderNumber: "246813579", note: null },
  { name: "Carlos Fernández", email: "carlos.fernandez@example.es", phone: "+34 91 555 0166", ssn: null, card: null, iban: "ES9121000418450200051332", orderNumber: "ORD-2024-10-3301", note: "Write to carlos.f@example.es for invoices" },
  { name: "Giulia Rossi", email: "giulia.rossi@example.it", phone: "+39 06 5555 0111", ssn: null, card: "4242424242424242", iban: "IT60X0542811101000000123456", orderNumber: "ORD-2025-03-0999", note: "Card 4242 4242 4242 4242 expired, asked for a new one" },
  { name: "Noah Williams", email: "noah.williams@example.com", phone: "+1 312-555-0150", ssn: "622-18-4407", card: "5555555555554444", iban: null, orderNumber: "100200300", note: null },
  { name: "Olivia Brown", email: null, phone: "+1 503-555-0163", ssn: "318-62-5094", card: null, iban: null, orderNumber: "ORD-2024-09-7712", note: "No email on file; call +1 503-555-0163" },
  { name: "Jan Novák", email: "jan.novak@example.cz", phone: null, ssn: null, card: null, iban: "AT611904300234573201", orderNumber: "ORD-2025-01-2020", note: null },
  { name: "Ingrid Larsen", email: "ingrid.larsen@example.no", phone: "+47 22 55 50 12", ssn: null, card: "371449635398431", iban: null, orderNumber: "314159265", note: "Order 314159265 split in two parcels" },
  { name: "Peter Schmid", email: "peter.schmid@example.ch", phone: "+41 44 555 01 77", ssn: null, card: null, iban: "CH9300762011623852957", orderNumber: "ORD-2024-08-4455", note: null },
  { name: "Aisha Khan", email: "aisha.khan@example.co.uk", phone: "+44 20 7946 0958", ssn: null, card: "3530111333300000", iban: "GB82WEST12345698765432", orderNumber: "ORD-2025-02-0600", note: "Gift wrap every order" },
  { name: "Thomas Peeters", email: "thomas.peeters@example.be", phone: "+32 2 555 01 88", ssn: null, card: null, iban: "BE68539007547034", orderNumber: "777888999", note: null },
  { name: "Grace Lee", email: "grace.lee@example.com", phone: "+1 206-555-0181", ssn: "527-90-1846", card: "4111111111111111", iban: null, orderNumber: "ORD-2024-12-3141", note: "Shares a card with Maria Garcia" },
  { name: "Daniel Cohen", email: "daniel.cohen@example.com", phone: null, ssn: null, card: null, iban: null, orderNumber: null, note: "Account created, no orders yet" },
  { name: "Yuki Tanaka", email: "yuki.tanaka@example.jp", phone: "+81 3 5555 0105", ssn: null, card: "5500005555555559", iban: null, orderNumber: "ORD-2025-03-1212", note: "Ship to office, reception closes at 18:00" },
];

export const SAMPLE_ORDER_COUNT = 50;
const ORDER_STATUSES = ["pending", "paid", "shipped", "delivered", "refunded"];

/** A SQL literal (standard_conforming_strings is on by default), or NULL. */
function literal(value: string | null): string {
  return value === null ? "NULL" : `'${value.replace(/'/g, "''")}'`;
}

function customerRow(c: SampleCustomer): string {
  return `(${[c.name, c.email, c.phone, c.ssn, c.card, c.iban, c.orderNumber, c.note].map(literal).join(", ")})`;
}

/** The whole script; it drops and recreates the tables, so a suite may reseed. */
function sampleDataSql(usersRole: string): string {
  return `
DROP TABLE IF EXISTS orders, customers;
CREATE TABLE customers (id serial PRIMARY KEY, name text, email text, phone text, ssn text, card text, iban text, order_number text, note text);
INSERT INTO customers (name, email, phone, ssn, card, iban, order_number, note) VALUES
${SAMPLE_CUSTOMERS.map(customerRow).join(",\n")};
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, status text, amount numeric);
-- Deterministic, so tests can predict any row: order i belongs to customer (i mod ${SAMPLE_CUSTOMERS.length}) + 1.
INSERT INTO orders (customer_id, status, amount)
SELECT i % ${SAMPLE_CUSTOMERS.length} + 1, (ARRAY[${ORDER_STATUSES.map(literal).join(", ")}])[i % ${ORDER_STATUSES.length} + 1], round((i * 7919 % 50000) / 100.0 + 5, 2)
FROM generate_series(1, ${SAMPLE_ORDER_COUNT}) AS i;
GRANT SELECT, INSERT, UPDATE, DELETE ON customers, orders TO ${usersRole};
GRANT USAGE, SELECT ON SEQUENCE customers_id_seq, orders_id_seq TO ${usersRole};
`;
}

/** What seedSampleData needs from a running server (see server.ts). */
export interface SeedTarget {
  database: string;
  usersRole: string;
  psql(args: string[], user?: PostgresLogin): Promise<CommandResult>;
}

/** Creates customers and orders in the server's database, readable and writable by all three ordinary users. */
export async function seedSampleData(pg: SeedTarget): Promise<void> {
  const result = await pg.psql(["-d", pg.database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sampleDataSql(pg.usersRole)]);
  if (result.code !== 0) throw new Error(`seeding the sample data failed (psql exit ${result.code}): ${result.stderr}`);
}
