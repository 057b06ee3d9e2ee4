/**
 * Reads a key source (a directory, or a .zip/.tar/.tar.gz/.tgz/.tar.xz archive) into memory without ever
 * writing an entry to disk: absolute paths, `..`, links, special files and oversized entries are refused
 * with the entry named, so a hostile or broken archive cannot touch anything outside it.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { printableName } from "../printable";

export interface SourceFile {
  /** Path inside the source, `/`-separated, e.g. `validator_keys/keystore-m_12381_3600_0_0_0-1.json`. */
  name: string;
  data: Buffer;
}

export class ArchiveError extends Error {
  /** The entry's name with control characters escaped: safe to print on one line. */
  public readonly entry: string;
  constructor(entry: string, message: string) {
    super(message);
    this.entry = printableName(entry);
  }
}

export const LIMITS = {
  /** A keystore is under 1 KiB; an interchange file for a few thousand keys stays well below this. */
  entryBytes: 16 * 1024 * 1024,
  totalBytes: 256 * 1024 * 1024,
  entries: 100_000,
  /** The archive file itself, before decompression. */
  archiveBytes: 256 * 1024 * 1024,
  /** How long xz may take to decompress one archive. */
  xzTimeoutMs: 60_000,
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
  return readArchive(readRegularFile(source), kind);
}

/**
 * The bytes of a regular file, refusing FIFOs, devices and sockets without blocking on them: the file is
 * opened non-blocking and checked on the open descriptor, so a swap after the check changes nothing.
 */
function readRegularFile(file: string, name = file, maxBytes = LIMITS.archiveBytes): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    throw new ArchiveError(name, `cannot be opened (${(e as NodeJS.ErrnoException).code}); give a directory of keystores or an archive file`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new ArchiveError(name, `is ${fileKind(st)}, not a regular file; give the file itself`);
    if (st.size > maxBytes) throw new ArchiveError(name, `is ${st.size} bytes, over the ${maxBytes}-byte limit`);
    const data = Buffer.alloc(st.size);
    let got = 0;
    while (got < data.length) {
      const n = fs.readSync(fd, data, got, data.length - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got !== st.size) throw new ArchiveError(name, `changed while it was read (${got} of ${st.size} bytes); copy it again`);
    return data;
  } finally {
    fs.closeSync(fd);
  }
}

function fileKind(st: fs.Stats): string {
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  if (st.isDirectory()) return "a directory";
  return "a special file";
}

export function readArchive(data: Buffer, kind: "zip" | "tar" | "tgz" | "txz"): SourceFile[] {
  if (kind === "zip") return uniqueNames(readZip(data));
  if (kind === "tar") return uniqueNames(readTar(data));
  if (kind === "tgz") return uniqueNames(readTar(gunzip(data)));
  return uniqueNames(readTar(unxz(data)));
}

/** Two entries with one name: which one a tool keeps differs (first, last), so neither is guessed. */
function uniqueNames(files: SourceFile[]): SourceFile[] {
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.name)) throw new ArchiveError(f.name, "appears twice in the archive; which copy is meant is ambiguous, so rebuild the archive with each file once");
    seen.add(f.name);
  }
  return files;
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
      // Opened like an archive (non-blocking, checked on the descriptor): a file swapped for a FIFO cannot block.
      out.push({ name, data: readRegularFile(full, name, LIMITS.entryBytes) });
    }
  };
  walk(root);
  return out;
}

/** `./a/b.json` -> `a/b.json`; refuses absolute paths and `..`. */
export function safeEntryName(raw: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(raw)) throw new ArchiveError(raw, "has control characters (a newline, an escape) in its name; rename the file");
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

/** The decompressed tar may hold totalBytes of files plus headers and padding. */
const decompressedLimit = () => LIMITS.totalBytes + 1024 * 1024;
const tooLarge = () => `decompresses to more than ${decompressedLimit()} bytes, the limit for a key source (${LIMITS.totalBytes} bytes of files); a key archive is a few KiB, check that this is the right file`;

function gunzip(data: Buffer): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: decompressedLimit() });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new ArchiveError("(gzip stream)", tooLarge());
    throw new ArchiveError("(gzip stream)", `cannot be decompressed: ${(e as Error).message}; the archive is truncated or corrupt, copy it again`);
  }
}

function unxz(data: Buffer): Buffer {
  // --memlimit bounds xz's own memory (a crafted header can ask for gigabytes of dictionary).
  const r = spawnSync("xz", ["--decompress", "--stdout", "--single-stream", "--memlimit=256MiB"], { input: data, maxBuffer: decompressedLimit(), timeout: LIMITS.xzTimeoutMs, killSignal: "SIGKILL" });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOBUFS") throw new ArchiveError("(xz stream)", tooLarge());
  if (code === "ETIMEDOUT" || r.signal === "SIGKILL") throw new ArchiveError("(xz stream)", `took more than ${LIMITS.xzTimeoutMs} ms to decompress; a key archive takes milliseconds, check that this is the right file`);
  if (code === "ENOENT") throw new ArchiveError("(xz stream)", "cannot be decompressed: the xz program is not installed (apt-get install xz-utils), or use a .tar.gz or .zip");
  if (r.error) throw new ArchiveError("(xz stream)", `cannot be decompressed: ${r.error.message}`);
  if (r.status !== 0) throw new ArchiveError("(xz stream)", `cannot be decompressed: ${printableName(r.stderr.toString().trim().slice(0, 300))}; the archive is truncated or corrupt, copy it again`);
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
    const rawName = longName ?? paxPath ?? joinUstarName(header);
    const checksum = octal(header, 148, 8, rawName, "checksum");
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
    if (checksum !== sum) throw new ArchiveError(rawName || "(tar header)", "has a bad tar header checksum; the archive is corrupt, copy it again");
    const size = octal(header, 124, 12, rawName, "size");
    const type = String.fromCharCode(header[156] || 48);
    const start = offset + 512;
    const end = start + size;
    if (end > data.length) throw new ArchiveError(rawName, `is cut short (${data.length - start} of ${size} bytes); the archive is truncated, copy it again`);
    offset = start + Math.ceil(size / 512) * 512;
    const body = data.subarray(start, end);
    if (type === "L") { longName = body.toString("utf8").replace(/\0.*$/s, ""); continue; }
    if (type === "x") {
      if (paxValue(body, "size") !== undefined) throw new ArchiveError(rawName || "(tar header)", "has a pax size record, which only files over 8 GiB need; the archive is not a key archive");
      paxPath = paxValue(body, "path");
      continue;
    }
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

/** A tar numeric field: octal digits, padded with spaces or NULs. Anything else is corruption, never 0. */
function octal(b: Buffer, start: number, len: number, entry: string, field: string): number {
  if (b[start] & 0x80) throw new ArchiveError(entry || "(tar header)", `uses a base-256 ${field} field, which no key archive needs`);
  const raw = b.subarray(start, start + len).toString("latin1");
  const s = raw.replace(/^[ \0]+|[ \0]+$/g, "");
  if (!/^[0-7]{1,12}$/.test(s)) throw new ArchiveError(entry || "(tar header)", `has a tar ${field} field ${JSON.stringify(printableName(raw))} that is not an octal number; the archive is corrupt, copy it again`);
  return parseInt(s, 8);
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
    // Python's zipfile.writestr records permission bits without a file type (0o600): a regular file.
    if (madeBy === 3 && (mode & 0o170000) !== 0 && (mode & 0o170000) !== 0o100000) throw new ArchiveError(rawName, "is not a regular file");
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
