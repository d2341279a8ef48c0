// Text that reaches the terminal from outside: statement text and summaries
// come from the agent, messages from the API server. Control characters could
// move the cursor, recolour or hide what a reviewer reads (and bidirectional
// overrides can reorder it), so they are shown as escapes instead.

/** C0 controls other than tab and newline (which callers handle), DEL, C1 controls, and bidirectional formatting characters. */
function unsafe(code: number): boolean {
  if (code < 0x20) return code !== 0x09 && code !== 0x0a;
  if (code >= 0x7f && code <= 0x9f) return true;
  return code === 0x061c || code === 0x200e || code === 0x200f || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
}

function escapeCharacter(code: number): string {
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Keeps newlines and tabs, escapes every other control character. */
export function printable(text: string): string {
  let result = "";
  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    result += unsafe(code) ? escapeCharacter(code) : character;
  }
  return result;
}

/** One line: runs of whitespace (newlines included) become one space, controls are escaped. */
export function oneLine(text: string): string {
  return printable(text.replace(/\s+/g, " ").trim());
}

/** At most `max` characters, ending in "..." when cut. */
export function truncate(text: string, max: number): string {
  const characters = [...text];
  return characters.length <= max ? text : `${characters.slice(0, Math.max(0, max - 3)).join("")}...`;
}

/** Every line after the first indented, for multi-line values under a label. */
export function indentLines(text: string, indent: string): string {
  return printable(text.replace(/\r\n?/g, "\n").replace(/\t/g, "    ")).split("\n").join(`\n${indent}`);
}
