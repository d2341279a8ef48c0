// Preloaded (node --import) into the jazzer.js process when its libFuzzer
// addon only loads as the compatible copy libfuzzer-addon.ts built. jazzer.js
// requires the addon by a fixed path, so the copy is placed in require's cache
// under that path before jazzer.js starts.
import Module, { createRequire } from "node:module";
import { libFuzzerAddonPath } from "./libfuzzer-addon.js";

const copy = process.env.PORTCULLIS_LIBFUZZER_ADDON;
if (copy) {
  const original = libFuzzerAddonPath();
  const addon = new Module(original);
  addon.filename = original;
  process.dlopen(addon, copy);
  addon.loaded = true;
  createRequire(import.meta.url).cache[original] = addon;
}
