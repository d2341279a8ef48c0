// Values for the constants a literal form replaces, for tests that hold the form
// paths (classification, the evidence's masked view) to the parser's own:
// numbers of every length the form replaces and strings that name keywords,
// settings, code, personal data or nothing. Deterministic, so a failure names
// the text it failed on.
import { literalForm } from "./literal-form.js";

const STRINGS = ["", "x", "it''s", "DROP TABLE customers", "false", "off", "0", "plpgsql", "ada@example.com", "1 day", "pg_authid", "é€", "role", "078-05-1120", "4111 1111 1111 1111"];

function* values(seed: number): Generator<{ number: string; string: string }> {
  let state = seed;
  for (;;) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const digits = 1 + (state % 9);
    yield { number: String(state).padStart(digits, "0").slice(0, digits), string: `'${STRINGS[state % STRINGS.length] ?? ""}'` };
  }
}

/** `text` with the constants its form replaces given the values `seed` picks (the text itself when it has no form). */
export function formVariant(text: string, seed: number): string {
  const form = literalForm(text);
  if (!form) return text;
  const pick = values(seed);
  let out = "";
  let from = 0;
  for (const token of form.tokens) {
    if (token.constant === undefined) continue;
    const next = pick.next().value as { number: string; string: string };
    out += text.slice(from, token.start) + (token.constant === "number" ? next.number : next.string);
    from = token.end;
  }
  return out + text.slice(from);
}

// Statements of every kind the form cache takes, with constants where rules and facts could care about them.
export const FORM_STATEMENTS = [
  "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
  "UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 77;",
  "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 4711, -4321, CURRENT_TIMESTAMP);",
  "UPDATE customers SET email = 'a@b.c' WHERE id = 1",
  "DELETE FROM orders WHERE id = 5",
  "DELETE FROM orders WHERE 1 = 1",
  "UPDATE orders SET total = 0 WHERE 'a' = 'a' OR id = 3",
  "SELECT * FROM customers WHERE email = 'x' AND id IN (1, 2, 3) LIMIT 10 OFFSET 20",
  "WITH d AS (DELETE FROM t WHERE id = 3 RETURNING *) SELECT * FROM d",
  "SELECT pg_read_file('/etc/passwd')",
  "SELECT set_config('role', 'admin', false)",
  "SELECT dblink_exec('host=x', 'DROP TABLE t')",
  "SELECT nextval('seq'), 'pg_authid'::regclass",
  "INSERT INTO t SELECT * FROM u WHERE a = 'x'",
  "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND s.v = 'x' THEN UPDATE SET v = 'y' WHEN NOT MATCHED THEN INSERT VALUES (1, 'z')",
  "SELECT 1; DELETE FROM t WHERE id = 2",
  "SELECT x FROM t WHERE a = 'it''s'",
  "SELECT 'a'\n'b'",
  "SELECT * FROM t WHERE id = $1 AND name = 'x'",
  "SELECT * FROM t FETCH FIRST 5 ROWS ONLY",
  "SELECT interval '1 day' + now(), lo_import('/tmp/x')",
  "SELECT * FROM t WHERE x = ANY('{1,2}'::int[]) AND y BETWEEN 1 AND 10",
  "SELECT 1.5, 1e3, 1234567890, 0x1F, 7",
  "INSERT INTO orders (id, note) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET note = 'b'",
  "SELECT * FROM t WHERE x = -5 AND y = - 7 AND z = +3",
  "SELECT id FROM customers WHERE phone = 5550100 AND email = 'ada@example.com' AND id > -3",
  "UPDATE customers SET phone = '555-0100', note = 'x' || 'y' WHERE email = 'b@c.d' AND id = - 12",
  "SELECT id FROM customers c, orders o WHERE c.phone = -5550100 AND o.total > 10.5 AND o.id = -4",
  "INSERT INTO customers (id, email, phone) VALUES (1, 'a@b.c', 5550100), (2, '', -1)",
  "SELECT id FROM customers WHERE phone=-5550100 AND id=+3 AND email=lower('A@B.C')",
];
