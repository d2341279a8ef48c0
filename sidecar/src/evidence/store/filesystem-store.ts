// The evidence store as a plain directory, for small installs (a volume the
// sidecar mounts) and for tests: an object key a/b/c is the file DIR/a/b/c, so
// each session gets its own folder. Writes go to a temporary file in the same
// folder, are flushed and then renamed over the object, so a reader (or a
// crash) never sees half an object. Temporary files start with a dot, which no
// key segment the uploader writes does, and listing skips them.
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { StoreError, type EvidenceStore } from "./store.js";

const SEGMENT_PATTERN = /^[A-Za-z0-9_=-][A-Za-z0-9._=-]*$/;

export class FilesystemStore implements EvidenceStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  /** The content type is not kept: the file name says what a chunk or manifest is. */
  async put(key: string, body: Uint8Array): Promise<void> {
    const file = this.fileOf(key);
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o750 });
      const handle = await open(temporary, "wx", 0o640);
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw new StoreError("write", file, error);
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const file = this.fileOf(key);
    try {
      return await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new StoreError("read", file, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    // Walk only the folder the prefix's complete segments name.
    const folder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    const keys: string[] = [];
    try {
      await this.walk(folder, keys);
    } catch (error) {
      throw new StoreError("list", path.join(this.root, folder), error);
    }
    return keys.filter((key) => key.startsWith(prefix)).sort();
  }

  close(): void {
    // Nothing is held open between operations.
  }

  private async walk(folder: string, keys: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(path.join(this.root, ...folder.split("/").filter(Boolean)), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const key = folder === "" ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory()) await this.walk(key, keys);
      else if (entry.isFile()) keys.push(key);
    }
  }

  /** The file of a key; a key that could leave the root (empty, "." or ".." segments, a leading dot) is refused. */
  private fileOf(key: string): string {
    const segments = key.split("/");
    if (!segments.every((segment) => SEGMENT_PATTERN.test(segment))) {
      throw new StoreError("use", JSON.stringify(key), new Error("not an object key this store accepts"));
    }
    return path.join(this.root, ...segments);
  }
}
