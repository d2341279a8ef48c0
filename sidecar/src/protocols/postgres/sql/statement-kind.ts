// What kind of statement a parse-tree node is, in the words an AccessPolicy
// uses: the command of the CRD's match.sql.commands enum, the object type of
// DDL, and the dangerous tags that follow from the statement kind alone.
// Statements that wrap another one (EXPLAIN, PREPARE, DECLARE) and bodies of
// code (DO, CREATE FUNCTION) are looked into by statement-facts.ts.
import type { Node, ObjectType } from "libpg-query";
import { unwrap, type NodeBody, type NodeKind } from "./parse-tree.js";

export interface StatementKind {
  command: string;
  /** Upper-case object kind of DDL, "" otherwise. */
  objectType: string;
  dangerous: string[];
}

type KindRules = { [K in NodeKind]?: (body: NodeBody<K>) => StatementKind };

const kind = (command: string, objectType = "", dangerous: string[] = []): StatementKind => ({ command, objectType, dangerous });
const fixed =
  (command: string, objectType = "", dangerous: string[] = []) =>
  (): StatementKind =>
    kind(command, objectType, dangerous);

// PostgreSQL's spelling of object kinds where it differs from the enum name.
const OBJECT_TYPE_WORDS: Partial<Record<ObjectType, string>> = {
  OBJECT_FDW: "FOREIGN DATA WRAPPER",
  OBJECT_FOREIGN_SERVER: "SERVER",
  OBJECT_LARGEOBJECT: "LARGE OBJECT",
  OBJECT_MATVIEW: "MATERIALIZED VIEW",
  OBJECT_OPCLASS: "OPERATOR CLASS",
  OBJECT_OPFAMILY: "OPERATOR FAMILY",
  OBJECT_AMOP: "OPERATOR FAMILY",
  OBJECT_AMPROC: "OPERATOR FAMILY",
  OBJECT_PARAMETER_ACL: "PARAMETER",
  OBJECT_STATISTIC_EXT: "STATISTICS",
  OBJECT_TABCONSTRAINT: "TABLE",
  OBJECT_DOMCONSTRAINT: "DOMAIN",
  OBJECT_ATTRIBUTE: "TYPE",
  OBJECT_TSCONFIGURATION: "TEXT SEARCH CONFIGURATION",
  OBJECT_TSDICTIONARY: "TEXT SEARCH DICTIONARY",
  OBJECT_TSPARSER: "TEXT SEARCH PARSER",
  OBJECT_TSTEMPLATE: "TEXT SEARCH TEMPLATE",
  OBJECT_DEFACL: "DEFAULT PRIVILEGES",
  OBJECT_PUBLICATION_NAMESPACE: "PUBLICATION",
  OBJECT_PUBLICATION_REL: "PUBLICATION",
};

export function objectTypeWords(type: ObjectType | undefined): string {
  if (!type) return "";
  return OBJECT_TYPE_WORDS[type] ?? type.replace(/^OBJECT_/, "").replace(/_/g, " ");
}

const objectKind =
  (command: string) =>
  (body: { objtype?: ObjectType; objectType?: ObjectType; kind?: ObjectType; removeType?: ObjectType }): StatementKind =>
    kind(command, objectTypeWords(body.objtype ?? body.objectType ?? body.kind ?? body.removeType));

/** ALTER TABLE t RENAME COLUMN is an ALTER of the table, so a rule on TABLE sees it. */
function renameKind(body: NodeBody<"RenameStmt">): StatementKind {
  const type = body.renameType === "OBJECT_COLUMN" ? body.relationType : body.renameType;
  return kind("ALTER", objectTypeWords(type));
}

/** Settings that lift a protection the database may rely on: read-only transactions, triggers and foreign keys, row security. */
const PROTECTIVE_SETTINGS = new Set(["default_transaction_read_only", "transaction_read_only", "session_replication_role", "row_security"]);

/** The settings a SET changes: its name, and for SET TRANSACTION / SESSION CHARACTERISTICS the options it lists. */
function settingsChanged(body: NodeBody<"VariableSetStmt">): string[] {
  const listed = (body.args ?? []).flatMap((arg) => {
    const defname = (arg as { DefElem?: { defname?: unknown } }).DefElem?.defname;
    return typeof defname === "string" ? [defname] : [];
  });
  return [body.name ?? "", ...listed];
}

function variableSetKind(body: NodeBody<"VariableSetStmt">): StatementKind {
  const settings = settingsChanged(body);
  const tags = [
    ...(settings.some((name) => name === "role" || name === "session_authorization") ? ["set-role"] : []),
    ...(settings.some((name) => PROTECTIVE_SETTINGS.has(name)) ? ["protective-setting"] : []),
    // Names the parser resolved (SET NAMES, U&"…" spellings), for the guard's encoding check; not a danger in itself.
    ...(settings.includes("client_encoding") ? ["client-encoding"] : []),
  ];
  return kind("SET", "", tags);
}

function copyKind(body: NodeBody<"CopyStmt">): StatementKind {
  if (body.is_program) return kind("COPY", "", ["copy-program"]);
  return kind("COPY", "", body.filename !== undefined ? ["copy-file"] : []);
}

const CREATE_RULES: KindRules = {
  CreateStmt: fixed("CREATE", "TABLE"),
  CreateForeignTableStmt: fixed("CREATE", "FOREIGN TABLE"),
  ImportForeignSchemaStmt: fixed("CREATE", "FOREIGN TABLE"),
  CreateTableAsStmt: objectKind("CREATE"),
  CreateSchemaStmt: fixed("CREATE", "SCHEMA"),
  CreateTableSpaceStmt: fixed("CREATE", "TABLESPACE"),
  CreateExtensionStmt: fixed("CREATE", "EXTENSION", ["create-extension"]),
  CreateFdwStmt: fixed("CREATE", "FOREIGN DATA WRAPPER"),
  CreateForeignServerStmt: fixed("CREATE", "SERVER"),
  CreateUserMappingStmt: fixed("CREATE", "USER MAPPING"),
  CreatePolicyStmt: fixed("CREATE", "POLICY"),
  CreateAmStmt: fixed("CREATE", "ACCESS METHOD"),
  CreateTrigStmt: fixed("CREATE", "TRIGGER"),
  CreateEventTrigStmt: fixed("CREATE", "EVENT TRIGGER"),
  CreatePLangStmt: fixed("CREATE", "LANGUAGE"),
  CreateRoleStmt: fixed("CREATE", "ROLE"),
  CreateSeqStmt: fixed("CREATE", "SEQUENCE"),
  DefineStmt: objectKind("CREATE"),
  CreateDomainStmt: fixed("CREATE", "DOMAIN"),
  CreateOpClassStmt: fixed("CREATE", "OPERATOR CLASS"),
  CreateOpFamilyStmt: fixed("CREATE", "OPERATOR FAMILY"),
  IndexStmt: fixed("CREATE", "INDEX"),
  CreateStatsStmt: fixed("CREATE", "STATISTICS"),
  CreateFunctionStmt: (body) => kind("CREATE", body.is_procedure ? "PROCEDURE" : "FUNCTION", ["function-body"]),
  RuleStmt: fixed("CREATE", "RULE"),
  CompositeTypeStmt: fixed("CREATE", "TYPE"),
  CreateEnumStmt: fixed("CREATE", "TYPE"),
  CreateRangeStmt: fixed("CREATE", "TYPE"),
  ViewStmt: fixed("CREATE", "VIEW"),
  CreatedbStmt: fixed("CREATE", "DATABASE"),
  CreateConversionStmt: fixed("CREATE", "CONVERSION"),
  CreateCastStmt: fixed("CREATE", "CAST"),
  CreateTransformStmt: fixed("CREATE", "TRANSFORM"),
  CreatePublicationStmt: fixed("CREATE", "PUBLICATION"),
  CreateSubscriptionStmt: fixed("CREATE", "SUBSCRIPTION"),
};

const ALTER_RULES: KindRules = {
  AlterTableStmt: objectKind("ALTER"),
  AlterTableMoveAllStmt: objectKind("ALTER"),
  AlterCollationStmt: fixed("ALTER", "COLLATION"),
  AlterDomainStmt: fixed("ALTER", "DOMAIN"),
  AlterDefaultPrivilegesStmt: fixed("ALTER", "DEFAULT PRIVILEGES"),
  AlterTableSpaceOptionsStmt: fixed("ALTER", "TABLESPACE"),
  AlterExtensionStmt: fixed("ALTER", "EXTENSION"),
  AlterExtensionContentsStmt: fixed("ALTER", "EXTENSION"),
  AlterFdwStmt: fixed("ALTER", "FOREIGN DATA WRAPPER"),
  AlterForeignServerStmt: fixed("ALTER", "SERVER"),
  AlterUserMappingStmt: fixed("ALTER", "USER MAPPING"),
  AlterPolicyStmt: fixed("ALTER", "POLICY"),
  AlterEventTrigStmt: fixed("ALTER", "EVENT TRIGGER"),
  AlterRoleStmt: fixed("ALTER", "ROLE"),
  AlterRoleSetStmt: fixed("ALTER", "ROLE"),
  AlterSeqStmt: fixed("ALTER", "SEQUENCE"),
  AlterOpFamilyStmt: fixed("ALTER", "OPERATOR FAMILY"),
  AlterStatsStmt: fixed("ALTER", "STATISTICS"),
  AlterFunctionStmt: objectKind("ALTER"),
  RenameStmt: renameKind,
  AlterObjectDependsStmt: objectKind("ALTER"),
  AlterObjectSchemaStmt: objectKind("ALTER"),
  AlterOwnerStmt: objectKind("ALTER"),
  AlterOperatorStmt: fixed("ALTER", "OPERATOR"),
  AlterTypeStmt: fixed("ALTER", "TYPE"),
  AlterEnumStmt: fixed("ALTER", "TYPE"),
  AlterDatabaseStmt: fixed("ALTER", "DATABASE"),
  AlterDatabaseRefreshCollStmt: fixed("ALTER", "DATABASE"),
  AlterDatabaseSetStmt: fixed("ALTER", "DATABASE"),
  AlterSystemStmt: fixed("ALTER", "SYSTEM", ["alter-system"]),
  AlterTSDictionaryStmt: fixed("ALTER", "TEXT SEARCH DICTIONARY"),
  AlterTSConfigurationStmt: fixed("ALTER", "TEXT SEARCH CONFIGURATION"),
  AlterPublicationStmt: fixed("ALTER", "PUBLICATION"),
  AlterSubscriptionStmt: fixed("ALTER", "SUBSCRIPTION"),
  // REASSIGN OWNED changes the owner of every object a role owns.
  ReassignOwnedStmt: fixed("ALTER", "OWNED"),
};

const DROP_RULES: KindRules = {
  DropStmt: objectKind("DROP"),
  DropTableSpaceStmt: fixed("DROP", "TABLESPACE"),
  DropUserMappingStmt: fixed("DROP", "USER MAPPING"),
  DropRoleStmt: fixed("DROP", "ROLE"),
  DropdbStmt: fixed("DROP", "DATABASE"),
  DropSubscriptionStmt: fixed("DROP", "SUBSCRIPTION"),
  DropOwnedStmt: fixed("DROP", "OWNED"),
  TruncateStmt: fixed("TRUNCATE", "TABLE"),
};

const OTHER_RULES: KindRules = {
  SelectStmt: (body) => (body.intoClause ? kind("CREATE", "TABLE") : kind("SELECT")),
  InsertStmt: fixed("INSERT"),
  UpdateStmt: fixed("UPDATE"),
  DeleteStmt: fixed("DELETE"),
  MergeStmt: fixed("MERGE"),
  CopyStmt: copyKind,
  GrantStmt: (body) => kind(body.is_grant ? "GRANT" : "REVOKE", objectTypeWords(body.objtype)),
  GrantRoleStmt: (body) => kind(body.is_grant ? "GRANT" : "REVOKE", "ROLE"),
  DoStmt: fixed("DO", "", ["do-block"]),
  CallStmt: fixed("CALL"),
  VariableSetStmt: variableSetKind,
  ConstraintsSetStmt: fixed("SET"),
  VariableShowStmt: fixed("SHOW"),
  TransactionStmt: fixed("TRANSACTION"),
  ExplainStmt: fixed("EXPLAIN"),
  // ANALYZE shares VacuumStmt with VACUUM.
  VacuumStmt: (body) => kind(body.is_vacuumcmd ? "VACUUM" : "UTILITY"),
  LockStmt: fixed("LOCK"),
  LoadStmt: fixed("UTILITY", "", ["load"]),
  // Its text does not show what runs, so nothing about it can be matched but this tag.
  ExecuteStmt: fixed("UTILITY", "", ["execute-prepared"]),
};

const RULES: KindRules = { ...CREATE_RULES, ...ALTER_RULES, ...DROP_RULES, ...OTHER_RULES };

/** Every statement kind not named above (LISTEN, DISCARD, CHECKPOINT, COMMENT, …) is UTILITY. */
export function statementKind(node: Node): StatementKind {
  const [nodeKind, body] = unwrap(node);
  const rule = RULES[nodeKind] as ((body: unknown) => StatementKind) | undefined;
  return rule ? rule(body) : kind("UTILITY");
}
