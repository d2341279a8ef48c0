// The settings under which the server reads the session's next query text
// (standard_conforming_strings, client_encoding), as far as the gateway can
// know them. The server reports both in ParameterStatus whenever they change
// (PostgreSQL 14 and later just before ReadyForQuery, older versions at
// once), whatever changed them: SET, SET LOCAL, set_config, RESET, a function,
// a rolled-back transaction, ALTER ROLE … SET at login. So the values are
// known exactly at a ReadyForQuery with nothing else outstanding; from the
// moment the gateway forwards anything that can run code until then, they are
// unknown, and texts are accepted only if they read the same either way.
import type { SqlReading } from "./ports.js";

const TRACKED = new Set(["standard_conforming_strings", "client_encoding", "server_version"]);

export class ReadingSettings {
  private standardConformingStrings: boolean | undefined;
  private clientEncoding: string | undefined;
  /** From server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)"; it never changes in a session. */
  private serverMajor: number | undefined;
  /** Something that can run code went to the server after its last ReadyForQuery with nothing outstanding. */
  private running = false;

  /** `parameters`: the ParameterStatus values of the server's greeting. */
  constructor(parameters: ReadonlyArray<readonly [string, string]>) {
    for (const [name, value] of parameters) this.reported(name, value);
  }

  /** A ParameterStatus from the server. */
  reported(name: string, value: string): void {
    if (!TRACKED.has(name)) return;
    if (name === "server_version") this.serverMajor = Number.parseInt(value, 10) || undefined;
    else if (name === "client_encoding") this.clientEncoding = value.toUpperCase();
    // The server reports "on" or "off"; anything else leaves the setting unknown.
    else this.standardConformingStrings = value === "on" ? true : value === "off" ? false : undefined;
  }

  /** A Query, Bind or Execute went to the server. */
  codeSent(): void {
    this.running = true;
  }

  /** A ReadyForQuery arrived; `outstanding`: the server still owes answers to messages sent after it. */
  ready(outstanding: boolean): void {
    if (!outstanding) this.running = false;
  }

  /** How the server reads a text sent now (or, with `afterRunning`, after code this batch runs first). */
  current(afterRunning = false): SqlReading {
    if (this.running || afterRunning) return { serverMajor: this.serverMajor };
    return { standardConformingStrings: this.standardConformingStrings, clientEncoding: this.clientEncoding, serverMajor: this.serverMajor };
  }
}
