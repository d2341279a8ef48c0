// Code inside a statement (a function body, a DO block) is read by the server
// when it runs, under the standard_conforming_strings then in force — the
// session's at each call, which nobody can know when the code is written, and
// possibly a different one when the body is split into statements than when
// each statement is read. A '…' literal holding a backslash reads differently
// under the two settings, so such code is accepted only when its tokens end in
// the same places either way (a regular expression such as '\d+' only changes
// its value): then every split and every reading sees the same statements, and
// the classification, which depends on tokens and not on the values of
// literals, holds for all of them. Anything else is refused.
import { ClassificationError, scanTokens } from "./parser.js";
import { dependsOnStandardStrings, textAsServerReads } from "./sql-reading.js";

const SETTING_OFF = { standardConformingStrings: false, clientEncoding: "UTF8" } as const;

const refusal = (): ClassificationError =>
  new ClassificationError(
    "the code has a backslash in a '…' literal that ends elsewhere when standard_conforming_strings is off, and the setting it runs under cannot be known; write the literal as E'…'",
  );

/** Throws unless the code's tokens end in the same places with standard_conforming_strings on and off. */
export function checkCodeReading(code: string | undefined): void {
  if (code === undefined || !dependsOnStandardStrings(code)) return;
  let asWritten: string[];
  let settingOff: string[];
  try {
    asWritten = scanTokens(code).map((token) => token.text);
    // The off reading writes each such literal as E'…' (sql-reading.ts), verified by PostgreSQL's scanner.
    settingOff = scanTokens(textAsServerReads(code, SETTING_OFF)).map((token) => token.text);
  } catch {
    throw refusal();
  }
  const same = asWritten.length === settingOff.length && asWritten.every((text, index) => text === settingOff[index] || `E${text}` === settingOff[index]);
  if (!same) throw refusal();
}
