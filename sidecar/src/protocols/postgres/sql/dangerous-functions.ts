// Built-in functions that reach outside the database's tables: they read or
// write the server's files, control other sessions and the server, run SQL
// handed to them as text, or change state (sequences, large objects, locks). A SELECT that calls one is not the harmless read it
// looks like, so the classifier tags it and policies can treat it as a write.

const SERVER_FILE = new Set([
  "pg_read_file",
  "pg_read_binary_file",
  "pg_ls_dir",
  "pg_stat_file",
  "pg_ls_logdir",
  "pg_ls_waldir",
  "pg_ls_tmpdir",
  "pg_ls_archive_statusdir",
  "pg_ls_logicalsnapdir",
  "pg_ls_logicalmapdir",
  "pg_ls_replslotdir",
  "lo_import",
  "lo_export",
  // adminpack
  "pg_file_write",
  "pg_file_rename",
  "pg_file_unlink",
  "pg_file_sync",
  "pg_logdir_ls",
]);

const SERVER_CONTROL = new Set([
  "pg_terminate_backend",
  "pg_cancel_backend",
  "pg_reload_conf",
  "pg_rotate_logfile",
  "set_config",
  "pg_promote",
  "pg_switch_wal",
  "pg_create_restore_point",
  "pg_backup_start",
  "pg_backup_stop",
  "pg_wal_replay_pause",
  "pg_wal_replay_resume",
  "pg_log_backend_memory_contexts",
  "pg_create_physical_replication_slot",
  "pg_create_logical_replication_slot",
  "pg_drop_replication_slot",
  "pg_copy_physical_replication_slot",
  "pg_copy_logical_replication_slot",
  "pg_replication_slot_advance",
  "pg_import_system_collations",
]);

// Run the SQL text they are given, or read whole tables, schemas or databases named in their arguments,
// which the classifier cannot see as tables read.
const RUNS_SQL_TEXT = new Set([
  "query_to_xml",
  "query_to_xmlschema",
  "query_to_xml_and_xmlschema",
  "cursor_to_xml",
  "cursor_to_xmlschema",
  "ts_stat",
  ...["table", "schema", "database"].flatMap((scope) => [`${scope}_to_xml`, `${scope}_to_xmlschema`, `${scope}_to_xml_and_xmlschema`]),
]);

// Change state though called from a SELECT: sequences, large objects, notifications, advisory locks,
// statistics, logical decoding (which also returns changes to every table).
const CHANGES_STATE = new Set([
  "nextval",
  "setval",
  "lo_create",
  "lo_creat",
  "lo_unlink",
  "lo_put",
  "lowrite",
  "lo_truncate",
  "lo_truncate64",
  "lo_from_bytea",
  "pg_notify",
  "pg_logical_emit_message",
  "pg_logical_slot_get_changes",
  "pg_logical_slot_get_binary_changes",
  "pg_logical_slot_peek_changes",
  "pg_logical_slot_peek_binary_changes",
  "pg_start_backup",
  "pg_stop_backup",
  "pg_stat_statements_reset",
]);
const CHANGES_STATE_PREFIXES = ["pg_advisory_", "pg_try_advisory_", "pg_stat_reset"];

/** The dangerous tags that calling these functions earns. Names may be schema-qualified. */
export function functionDangers(functions: readonly string[]): string[] {
  const tags = new Set<string>();
  for (const qualified of functions) {
    const name = qualified.slice(qualified.lastIndexOf(".") + 1);
    if (SERVER_FILE.has(name)) tags.add("server-file-function");
    if (SERVER_CONTROL.has(name) || name.startsWith("dblink") || name.startsWith("pg_replication_origin_")) tags.add("server-control-function");
    if (RUNS_SQL_TEXT.has(name)) tags.add("dynamic-sql");
    if (CHANGES_STATE.has(name) || CHANGES_STATE_PREFIXES.some((prefix) => name.startsWith(prefix))) tags.add("state-changing-function");
  }
  return [...tags];
}
