// Golden files for tests (Istio-style): a test renders its output and
// compares it with a file in its package's testdata folder; with
// UPDATE_GOLDEN=1 it writes the file instead. Review the diff of a
// regenerated file like code.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "@jest/globals";

const UPDATE = process.env.UPDATE_GOLDEN === "1";

export interface GoldenFiles {
  /** The testdata folder's path. */
  readonly testdata: string;
  /** Compares `actual` with testdata/`file` (or writes it); `undefined` means the file must not exist. */
  readonly expectGolden: (file: string, actual: string | undefined) => void;
}

/** The golden files in `testdata` (a folder URL, e.g. new URL("./testdata/", import.meta.url)). */
export function goldenFiles(testdata: URL): GoldenFiles {
  const folder = fileURLToPath(testdata);
  return {
    testdata: folder,
    expectGolden: (file, actual) => {
      const path = join(folder, file);
      if (UPDATE) {
        if (actual === undefined) rmSync(path, { force: true });
        else writeFileSync(path, actual);
        return;
      }
      if (actual === undefined) {
        expect({ file, exists: existsSync(path) }).toEqual({ file, exists: false });
        return;
      }
      if (!existsSync(path)) throw new Error(`golden file testdata/${file} is missing; run the tests with UPDATE_GOLDEN=1`);
      // A difference here: if it is intended, regenerate with UPDATE_GOLDEN=1 and review the diff.
      expect(actual).toBe(readFileSync(path, "utf8"));
    },
  };
}
