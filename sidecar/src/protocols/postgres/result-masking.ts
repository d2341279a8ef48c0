// Connects the masking rules to the protocol layer: turns a RowDescription's
// fields into the columns masking rules speak of (result name, schema.table
// and column name looked up by OID), and refuses a result whose table names
// cannot be looked up rather than letting it through unmasked.
import type { Masker, ResultColumn } from "../../masking/index.js";
import type { TableCatalog } from "./catalog.js";
import type { MaskPlan, ResultField, ResultMasking } from "./ports.js";
import { errorMessage } from "../../config/error-message.js";

export class CatalogResultMasking implements ResultMasking {
  readonly active: boolean;

  constructor(
    private readonly masker: Masker,
    private readonly catalog: TableCatalog,
  ) {
    this.active = masker.active;
  }

  async plan(fields: readonly ResultField[]): Promise<MaskPlan | undefined> {
    let names: Awaited<ReturnType<TableCatalog["resolve"]>>;
    try {
      names = await this.catalog.resolve(fields.map((field) => field.tableID));
    } catch (error) {
      return refusal(`the table names of the result could not be looked up (${errorMessage(error)}), so masking rules cannot be applied`);
    }
    const columns = fields.map((field): ResultColumn => {
      const name = names(field.tableID, field.columnID);
      return { name: field.name, ...(name ? { table: name.table, column: name.column } : {}), typeOid: field.dataTypeID, format: field.format };
    });
    return this.masker.planFor(columns);
  }
}

function refusal(message: string): MaskPlan {
  return { binaryConflict: message, maskRow: (values) => ({ values, changed: false }), counts: () => ({}) };
}
