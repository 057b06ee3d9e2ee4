/**
 * Reads a key source (a directory, or a .zip/.tar/.tar.gz/.tgz/.tar.xz archive) into memory without ever
 * writing an entry to disk: absolute paths, `..`, links, special files and oversized entries are refused
 * with the entry named, so a hostile or broken archive cannot touch anything outside it.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

export interface SourceFile {
  /** Path inside the source, `/`-separated, e.g. `validator_keys/keystore-m_12381_3600_0_0_0-1.json`. */
  name: string;
  data: Buffer;
}

export class ArchiveError extends Error {
  constructor(public readonly entry: string, message: string) {
    super(message);
  }
}

export const LIMITS = {
  /** A keystore is under 1 KiB; an interchange file for a few thousand keys stays well below this. */
  entryBytes: 16 * 1024 * 1024,
  totalBytes: 256 * 1024 * 1024,
  entries: 100_000,
};

export const ARCHIVE_SUFFIXES = [".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz"] as const;

export function archiveKind(file: string): "zip" | "tar" | "tgz" | "txz" | undefined {
  const f = file.toLowerCase();
  if (f.endsWith(".zip")) return "zip";
  if (f.endsWith(".tar")) return "tar";
  if (f.endsWith(".tar.gz") || f.endsWith(".tgz")) return "tgz";
  if (f.endsWith(".tar.xz") || f.endsWith(".txz")) return "txz";
  return undefined;
}

/** Every regular file of a directory (recursively) or an archive. */
export function readKeySource(source: string): SourceFile[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw new ArchiveError(source, `does not exist or cannot be read; give a directory of keystores or an archive (${ARCHIVE_SUFFIXES.join(", ")})`);
  }
  if (st.isDirectory()) return readDirectory(source);
  const kind = archiveKind(source);
  if (!kind) throw new ArchiveError(source, `is neither a directory nor an archive ending in ${ARCHIVE_SUFFIXES.join(", ")}`);
  return readArchive(fs.readFileSync(source), kind);
}

export function readArchive(data: Buffer, kind: "zip" | "tar" | "tgz" | "txz"): SourceFile[] {
  if (kind === "zip") return readZip(data);
  if (kind === "tar") return readTar(data);
  if (kind === "tgz") return readTar(gunzip(data));
  return readTar(unxz(data));
}

function readDirectory(root: string): SourceFile[] {
  const out: SourceFile[] = [];
  let total = 0;
  const walk = (dir: string) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, ent.name);
      const name = path.relative(root, full).split(path.sep).join("/");
      if (ent.isSymbolicLink()) throw new ArchiveError(name, "is a symbolic link; links are refused: copy the file itself into the key directory");
      if (ent.isDirectory()) { walk(full); continue; }
      if (!ent.isFile()) throw new ArchiveError(name, "is not a regular file");
      const size = fs.statSync(full).size;
      checkSize(name, size, (total += size));
      out.push({ name, data: fs.readFileSync(full) });
    }
  };
  walk(root);
  return out;
}

/** `./a/b.json` -> `a/b.json`; refuses absolute paths and `..`. */
export function safeEntryName(raw: string): string {
  const name = raw.replace(/\\/g, "/");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) throw new ArchiveError(raw, "has an absolute path; archives must hold relative paths only");
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new ArchiveError(raw, 'contains a ".." path segment; refusing an entry that points outside the archive');
  return parts.join("/");
}

function checkSize(name: string, size: number, total: number): void {
  if (size > LIMITS.entryBytes) throw new ArchiveError(name, `is ${size} bytes, over the ${LIMITS.entryBytes}-byte limit for one entry; keystores are about 1 KiB`);
  if (total > LIMITS.totalBytes) throw new ArchiveError(name, `brings the source over ${LIMITS.totalBytes} bytes in total`);
}

function gunzip(data: Buffer): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: LIMITS.totalBytes + 1024 * 1024 });
  } catch (e) {
    throw new ArchiveError("(gzip stream)", `cannot be decompressed: ${(e as Error).message}; the archive is truncated or corrupt, copy it again`);
  }
}

function unxz(data: Buffer): Buffer {
  const r = spawnSync("xz", ["--decompress", "--stdout", "--single-stream"], { input: data, maxBuffer: LIMITS.totalBytes + 1024 * 1024 });
  if (r.error) throw new ArchiveError("(xz stream)", `cannot be decompressed: ${r.error.message} (is xz installed? apt-get install xz-utils)`);
  if (r.status !== 0) throw new ArchiveError("(xz stream)", `cannot be decompressed: ${r.stderr.toString().trim()}; the archive is truncated or corrupt, copy it again`);
  return r.stdout;
}

function readTar(data: Buffer): SourceFile[] {
  const out: SourceFile[] = [];
  let offset = 0;
  let total = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  let entries = 0;
  for (;;) {
    if (offset + 512 > data.length) {
      throw new ArchiveError(out.at(-1)?.name ?? "(tar header)", "the tar archive is truncated (no end-of-archive marker); copy it again");
    }
    const header = data.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return out;
    if (++entries > LIMITS.entries) throw new ArchiveError("(tar)", `has more than ${LIMITS.entries} entries`);
    const checksum = octal(header, 148, 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
    const rawName = longName ?? paxPath ?? joinUstarName(header);
    if (checksum !== sum) throw new ArchiveError(rawName || "(tar header)", "has a bad tar header checksum; the archive is corrupt, copy it again");
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 48);
    const start = offset + 512;
    const end = start + size;
    if (end > data.length) throw new ArchiveError(rawName, `is cut short (${data.length - start} of ${size} bytes); the archive is truncated, copy it again`);
    offset = start + Math.ceil(size / 512) * 512;
    const body = data.subarray(start, end);
    if (type === "L") { longName = body.toString("utf8").replace(/\0.*$/s, ""); continue; }
    if (type === "x") { paxPath = paxValue(body, "path"); continue; }
    if (type === "g") continue;
    longName = undefined;
    paxPath = undefined;
    if (type === "1" || type === "2") throw new ArchiveError(rawName, `is a ${type === "1" ? "hard" : "symbolic"} link; links are refused: archive the files themselves`);
    const name = safeEntryName(rawName);
    if (type === "5") continue;
    if (type !== "0" && type !== "7") throw new ArchiveError(rawName, `is a special file (tar type ${JSON.stringify(type)}); only regular files are allowed`);
    checkSize(name, size, (total += size));
    out.push({ name, data: Buffer.from(body) });
  }
}

function joinUstarName(h: Buffer): string {
  const name = cstr(h, 0, 100);
  const prefix = h.subarray(257, 263).toString("latin1").startsWith("ustar") ? cstr(h, 345, 155) : "";
  return prefix ? `${prefix}/${name}` : name;
}

function cstr(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? len : z).toString("utf8");
}

function octal(b: Buffer, start: number, len: number): number {
  const s = cstr(b, start, len).trim();
  if (b[start] & 0x80) throw new ArchiveError("(tar header)", "uses base-256 sizes, which no key archive needs");
  return s === "" ? 0 : parseInt(s, 8);
}

function paxValue(body: Buffer, key: string): string | undefined {
  let i = 0;
  const text = body.toString("utf8");
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    if (sp < 0) break;
    const len = Number(text.slice(i, sp));
    if (!len) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (rec.slice(0, eq) === key) return rec.slice(eq + 1);
    i += len;
  }
  return undefined;
}

function readZip(data: Buffer): SourceFile[] {
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 65535); i--) {
    if (data.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new ArchiveError("(zip)", "has no end-of-central-directory record; the zip is truncated or not a zip, copy it again");
  const count = data.readUInt16LE(eocd + 10);
  let cd = data.readUInt32LE(eocd + 16);
  if (count === 0xffff || cd === 0xffffffff) throw new ArchiveError("(zip)", "is a ZIP64 archive, which key archives never need");
  const out: SourceFile[] = [];
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (cd + 46 > data.length || data.readUInt32LE(cd) !== 0x02014b50) throw new ArchiveError("(zip)", "has a damaged central directory; copy it again");
    const flags = data.readUInt16LE(cd + 8);
    const method = data.readUInt16LE(cd + 10);
    const compSize = data.readUInt32LE(cd + 20);
    const size = data.readUInt32LE(cd + 24);
    const nameLen = data.readUInt16LE(cd + 28);
    const extraLen = data.readUInt16LE(cd + 30);
    const commentLen = data.readUInt16LE(cd + 32);
    const madeBy = data.readUInt16LE(cd + 4) >> 8;
    const mode = data.readUInt32LE(cd + 38) >>> 16;
    const local = data.readUInt32LE(cd + 42);
    const rawName = data.subarray(cd + 46, cd + 46 + nameLen).toString("utf8");
    cd += 46 + nameLen + extraLen + commentLen;
    if (madeBy === 3 && (mode & 0o170000) === 0o120000) throw new ArchiveError(rawName, "is a symbolic link; links are refused: archive the files themselves");
    const name = safeEntryName(rawName);
    if (rawName.endsWith("/")) continue;
    if (madeBy === 3 && mode !== 0 && (mode & 0o170000) !== 0o100000) throw new ArchiveError(rawName, "is not a regular file");
    if (flags & 1) throw new ArchiveError(rawName, "is encrypted; zip the keystores without a zip password (they are encrypted already)");
    checkSize(name, size, (total += size));
    if (local + 30 > data.length || data.readUInt32LE(local) !== 0x04034b50) throw new ArchiveError(rawName, "has no local header; the zip is truncated or corrupt");
    const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
    if (start + compSize > data.length) throw new ArchiveError(rawName, "is cut short; the zip is truncated, copy it again");
    const raw = data.subarray(start, start + compSize);
    let body: Buffer;
    if (method === 0) body = Buffer.from(raw);
    else if (method === 8) {
      try {
        body = zlib.inflateRawSync(raw, { maxOutputLength: LIMITS.entryBytes + 1 });
      } catch (e) {
        throw new ArchiveError(rawName, `cannot be decompressed: ${(e as Error).message}`);
      }
    } else throw new ArchiveError(rawName, `uses zip compression method ${method}; only stored and deflate are supported`);
    if (body.length !== size) throw new ArchiveError(rawName, `holds ${body.length} bytes where the directory says ${size}; the zip is corrupt`);
    out.push({ name, data: body });
  }
  return out;
}
