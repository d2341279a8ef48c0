// Settings a client asks for at startup — as startup parameters, or in the
// `options` parameter (what PGOPTIONS fills, e.g. `-c intervalstyle=postgres`)
// — take effect before any statement the gateway could judge. Those that only
// change how values are shown or how long to wait are passed on as startup
// parameters; those that change how text is read or lift a protection are
// refused, naming why; anything else is refused by name.
import { SQLSTATE } from "./backend.js";

/** Settings passed on: presentation, search path, timeouts. */
const SAFE = new Set([
  "application_name",
  "client_encoding",
  "datestyle",
  "intervalstyle",
  "timezone",
  "extra_float_digits",
  "bytea_output",
  "client_min_messages",
  "lc_monetary",
  "lc_numeric",
  "lc_time",
  "search_path",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "idle_session_timeout",
  "default_transaction_isolation",
  "default_transaction_read_only",
]);

/** Settings refused with the reason: they change how the gateway would have to read text, or lift a protection. */
const REFUSED: Readonly<Record<string, string>> = {
  standard_conforming_strings: "it changes how string literals are read",
  backslash_quote: "it changes how string literals are read",
  escape_string_warning: "it changes how string literals are reported",
  role: "it changes the role statements run as",
  session_authorization: "it changes the user statements run as",
  row_security: "it turns row-level security off",
  session_replication_role: "it turns triggers and rules off",
};

export class StartupSettingRefusal extends Error {
  readonly code = SQLSTATE.featureNotSupported;
}

/** `-c name=value`, `-cname=value` and `--name=value` from an options string (backslash escapes a space). */
export function parseOptions(options: string): Array<[string, string]> {
  const words: string[] = [];
  let word = "";
  let escaped = false;
  for (const char of options) {
    if (escaped) {
      word += char;
      escaped = false;
    } else if (char === "\\") escaped = true;
    else if (/\s/.test(char)) {
      if (word) words.push(word);
      word = "";
    } else word += char;
  }
  if (word) words.push(word);
  const settings: Array<[string, string]> = [];
  for (let i = 0; i < words.length; i += 1) {
    const current = words[i] as string;
    let assignment: string | undefined;
    if (current === "-c") assignment = words[(i += 1)];
    else if (current.startsWith("-c")) assignment = current.slice(2);
    else if (current.startsWith("--")) assignment = current.slice(2).replace(/^[^=]*/, (name) => name.replace(/-/g, "_"));
    else throw new StartupSettingRefusal(`the startup option "${current}" is not allowed through the Portcullis gateway; only -c name=value settings are`);
    const equals = assignment?.indexOf("=") ?? -1;
    if (assignment === undefined || equals <= 0) throw new StartupSettingRefusal(`the startup option "${current}" does not set name=value`);
    settings.push([assignment.slice(0, equals), assignment.slice(equals + 1)]);
  }
  return settings;
}

function check(name: string, value: string): void {
  const key = name.toLowerCase();
  if (key === "client_encoding" && !/^(utf-?8|unicode)$/i.test(value)) {
    throw new StartupSettingRefusal(`client_encoding ${value} is not supported through the Portcullis gateway, which speaks UTF8 (masking reads values as UTF-8)`);
  }
  const reason = REFUSED[key];
  if (reason) throw new StartupSettingRefusal(`the setting "${name}" is not allowed at startup through the Portcullis gateway: ${reason}`);
  if (!SAFE.has(key)) throw new StartupSettingRefusal(`the setting "${name}" is not allowed at startup through the Portcullis gateway; set it with SET after connecting, where policy applies`);
}

/** The startup parameters to pass on: user and database aside, each one checked; `options` unfolded into its settings. */
export function startupSettings(parameters: Record<string, string>): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [name, value] of Object.entries(parameters)) {
    if (name === "user" || name === "database") continue;
    const unfolded = name === "options" ? parseOptions(value) : [[name, value] as [string, string]];
    for (const [setting, settingValue] of unfolded) {
      check(setting, settingValue);
      settings[setting] = settingValue;
    }
  }
  return settings;
}
