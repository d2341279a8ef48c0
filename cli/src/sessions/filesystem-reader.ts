// The filesystem store: PATH/PREFIX/<key>, for small installs and for tests.
import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { CliError, errorText } from "../errors.js";
import { checkedKey, collectBytes } from "./object-reading.js";
import type { StoreReader } from "./store-reader.js";
import { describeStore, type FilesystemStoreSettings } from "./store-settings.js";

const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException | null)?.code === "ENOENT";

export function filesystemReader(settings: FilesystemStoreSettings): StoreReader {
  const root = join(settings.path, ...(settings.prefix === "" ? [] : settings.prefix.split("/")));
  const location = describeStore(settings);
  return {
    location,
    async listKeys(dir) {
      const base = dir === "" ? root : join(root, checkedKey(dir));
      try {
        const entries = await readdir(base, { recursive: true, withFileTypes: true });
        return entries.filter((entry) => entry.isFile()).map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join("/"));
      } catch (error) {
        if (isMissing(error)) return [];
        throw new CliError(`cannot list ${base}: ${errorText(error)}`, { cause: error });
      }
    },
    async read(key, onBytes) {
      const file = join(root, checkedKey(key));
      try {
        return await collectBytes(createReadStream(file), onBytes);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw new CliError(`cannot read ${file}: ${errorText(error)}`, { cause: error });
      }
    },
  };
}
