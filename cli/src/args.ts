// Command-line parsing shared by every command: node:util's parseArgs in
// strict mode, with its errors turned into one short line plus the command's
// usage (exit 2), --help on every level, and exact positional arguments.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { UsageError } from "./errors.js";
import type { Io } from "./io.js";

interface StrictConfig<O extends ParseArgsOptionsConfig> {
  args: string[];
  options: O;
  strict: true;
  allowPositionals: true;
}

export type OptionValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<StrictConfig<O>>>["values"];

export interface ParsedCommand<O extends ParseArgsOptionsConfig> {
  values: OptionValues<O>;
  /** Exactly as many as the command names. */
  positionals: string[];
}

export interface CommandSpec<O extends ParseArgsOptionsConfig> {
  usage: string;
  options: O;
  /** Names of the required positional arguments, as the usage spells them (e.g. "NAME"). */
  positionals?: readonly string[];
}

/** A command or a group of them: its usage, and what it does with the arguments after its name. */
export interface Command {
  summary: string;
  usage: string;
  run(argv: readonly string[], io: Io): Promise<number>;
}

/** -h or --help anywhere before "--": help wins over every other mistake on the line. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === "-h" || arg === "--help");
}

/** The option parseArgs complained about, from its message (e.g. "'-n, --namespace <value>'"). */
function quotedOption(message: string): string | undefined {
  return /'(-[^' ,]*(?:, --[^' ]+)?)[^']*'/.exec(message)?.[1];
}

/** parseArgs' messages are long and suggest things that do not apply here; say the same in a few words. */
function parseErrorMessage(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const option = quotedOption(message) ?? "an option";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (message.includes("does not take")) return `option ${option} takes no value`;
    return `option ${option} needs a value`;
  }
  return message.split(". ")[0] ?? message;
}

export function parseCommandLine<O extends ParseArgsOptionsConfig>(argv: readonly string[], spec: CommandSpec<O>): ParsedCommand<O> {
  let parsed: ReturnType<typeof parseArgs<StrictConfig<O>>>;
  try {
    parsed = parseArgs<StrictConfig<O>>({ args: [...argv], options: spec.options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error), spec.usage);
  }
  const names = spec.positionals ?? [];
  const missing = names[parsed.positionals.length];
  if (missing !== undefined) throw new UsageError(`missing ${missing}`, spec.usage);
  const extra = parsed.positionals[names.length];
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`, spec.usage);
  return { values: parsed.values, positionals: parsed.positionals };
}

/** A string option that must be one of a few words. */
export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], option: string, usage: string): T | undefined {
  if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
  throw new UsageError(`${option} must be one of ${allowed.join(", ")}, not "${value}"`, usage);
}

export const OUTPUT_FORMATS = ["table", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function outputFormat(value: string | undefined, usage: string): OutputFormat {
  return oneOf(value, OUTPUT_FORMATS, "-o/--output", usage) ?? "table";
}

/** Runs one command, answering --help with its usage. */
export function commandWithHelp(summary: string, usage: string, run: (argv: readonly string[], io: Io) => Promise<number>): Command {
  return {
    summary,
    usage,
    run: (argv, io) => {
      if (!wantsHelp(argv)) return run(argv, io);
      io.out(usage);
      return Promise.resolve(0);
    },
  };
}

/** A group of sub-commands ("approvals list", "approvals approve", ...). */
export function commandGroup(summary: string, usage: string, commands: Readonly<Record<string, Command>>): Command {
  return {
    summary,
    usage,
    run: (argv, io) => {
      const [name, ...rest] = argv;
      if (name === undefined) throw new UsageError("missing command", usage);
      if (name === "-h" || name === "--help" || name === "help") {
        io.out(usage);
        return Promise.resolve(0);
      }
      const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
      if (command === undefined) throw new UsageError(`unknown command "${name}"`, usage);
      return command.run(rest, io);
    },
  };
}
