// Reads and edits the symbol-version requirements (the .gnu.version_r
// section) of a 64-bit little-endian ELF shared object. The dynamic linker
// refuses to load an object that requires a library version the system lacks,
// unless that requirement is marked weak; libfuzzer-addon.ts relies on this to
// load jazzer.js's prebuilt addon on an older glibc.

const ELF_MAGIC = 0x7f454c46;
const SHT_GNU_VERNEED = 0x6ffffffe;
const VER_FLG_WEAK = 0x2;

export interface VersionNeed {
  /** The library the version is required from, e.g. "libc.so.6". */
  file: string;
  /** The required version, e.g. "GLIBC_2.38". */
  version: string;
  weak: boolean;
}

interface Section {
  type: number;
  offset: number;
  link: number;
  info: number;
}

interface LocatedNeed extends VersionNeed {
  flagsOffset: number;
}

function sections(elf: Buffer): Section[] {
  if (elf.length < 64 || elf.readUInt32BE(0) !== ELF_MAGIC || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error("not a 64-bit little-endian ELF file");
  }
  const tableOffset = Number(elf.readBigUInt64LE(0x28));
  const entrySize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const list: Section[] = [];
  for (let i = 0; i < count; i++) {
    const at = tableOffset + i * entrySize;
    list.push({ type: elf.readUInt32LE(at + 4), offset: Number(elf.readBigUInt64LE(at + 24)), link: elf.readUInt32LE(at + 40), info: elf.readUInt32LE(at + 44) });
  }
  return list;
}

function stringAt(elf: Buffer, offset: number): string {
  const end = elf.indexOf(0, offset);
  if (end < 0) throw new Error(`ELF string at ${offset} is not terminated`);
  return elf.toString("latin1", offset, end);
}

// Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
// Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
function locateNeeds(elf: Buffer): LocatedNeed[] {
  const all = sections(elf);
  const table = all.find((section) => section.type === SHT_GNU_VERNEED);
  if (!table) return [];
  const strings = all[table.link];
  if (!strings) throw new Error("ELF version requirements point at a missing string table");
  const needs: LocatedNeed[] = [];
  let entry = table.offset;
  for (let i = 0; i < table.info; i++) {
    const file = stringAt(elf, strings.offset + elf.readUInt32LE(entry + 4));
    let aux = entry + elf.readUInt32LE(entry + 8);
    for (let j = elf.readUInt16LE(entry + 2); j > 0; j--) {
      const flags = elf.readUInt16LE(aux + 4);
      needs.push({ file, version: stringAt(elf, strings.offset + elf.readUInt32LE(aux + 8)), weak: (flags & VER_FLG_WEAK) !== 0, flagsOffset: aux + 4 });
      aux += elf.readUInt32LE(aux + 12);
    }
    entry += elf.readUInt32LE(entry + 12);
  }
  return needs;
}

/** Every library version the object requires, in file order. */
export function versionNeeds(elf: Buffer): VersionNeed[] {
  return locateNeeds(elf).map(({ file, version, weak }) => ({ file, version, weak }));
}

/** A copy of the object with the named version requirements marked weak; throws if it does not require one of them. */
export function markVersionsWeak(elf: Buffer, versions: readonly string[]): Buffer {
  const copy = Buffer.from(elf);
  const needs = locateNeeds(copy);
  for (const version of versions) {
    const matching = needs.filter((need) => need.version === version);
    if (matching.length === 0) throw new Error(`the ELF file does not require version ${version}`);
    for (const need of matching) copy.writeUInt16LE(copy.readUInt16LE(need.flagsOffset) | VER_FLG_WEAK, need.flagsOffset);
  }
  return copy;
}
