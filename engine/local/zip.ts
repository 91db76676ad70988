/**
 * A small reader of the zip archives torch.save writes: the central directory (zip64 included, for
 * checkpoints over 4 GB) is read with positioned reads, and each record's data is located through its
 * local header. Only stored (uncompressed) records are accepted, which is all torch.save writes, so a
 * tensor's bytes can be read in place; a compressed or encrypted record, a truncated archive or an
 * inconsistent directory is refused with a message naming the file.
 */
import { fstatSync, readSync } from 'node:fs';
import { NeoxError } from '../types';

export interface ZipEntry {
  name: string;
  /** Absolute byte offset of the record's data in the file. */
  dataStart: number;
  size: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;
const MAX_DIRECTORY = 256 * 1024 * 1024;

const METHODS: Record<number, string> = { 8: 'deflate', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz' };

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n <= 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`64-bit value ${v} out of range`);
  return Number(v);
}

/**
 * Lists the records of the zip archive open as `fd` (`file` names it in errors). Throws NeoxError
 * (code checkpoint_corrupt, or checkpoint_compressed for a compressed record).
 */
export function readZipDirectory(file: string, fd: number): Map<string, ZipEntry> {
  const size = fstatSync(fd).size;
  const corrupt = (why: string): never => {
    throw new NeoxError(`${file} is truncated or corrupt: ${why}`, 'checkpoint_corrupt');
  };
  if (size < 22) corrupt(`${size} bytes, too short for a zip archive`);
  // The end-of-central-directory record: the last 22 bytes, unless the archive has a comment.
  const tailLen = Math.min(size, 22 + MAX_COMMENT);
  const tail = readAt(fd, size - tailLen, tailLen);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD && i + 22 + tail.readUInt16LE(i + 20) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) corrupt('no zip end-of-central-directory record (the file was cut short, or it is not a zip archive)');
  const eocdPos = size - tailLen + at;
  let count = tail.readUInt16LE(at + 10);
  let dirSize = tail.readUInt32LE(at + 12);
  let dirOffset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    if (eocdPos < 20) corrupt('zip64 end-of-central-directory locator missing');
    const loc = readAt(fd, eocdPos - 20, 20);
    if (loc.readUInt32LE(0) !== ZIP64_LOCATOR) corrupt('zip64 end-of-central-directory locator missing');
    const z64At = u64(loc, 8);
    const z64 = readAt(fd, z64At, 56);
    if (z64.length < 56 || z64.readUInt32LE(0) !== ZIP64_EOCD) corrupt(`no zip64 end-of-central-directory record at byte ${z64At}`);
    count = u64(z64, 32);
    dirSize = u64(z64, 40);
    dirOffset = u64(z64, 48);
  }
  if (dirSize > MAX_DIRECTORY || dirOffset + dirSize > eocdPos) {
    corrupt(`central directory (${dirSize} bytes at ${dirOffset}) does not fit before its end record at byte ${eocdPos}`);
  }
  const dir = readAt(fd, dirOffset, dirSize);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) corrupt(`central directory entry ${i + 1} of ${count} is damaged`);
    const flags = dir.readUInt16LE(p + 8);
    const method = dir.readUInt16LE(p + 10);
    let compressed = dir.readUInt32LE(p + 20);
    let uncompressed = dir.readUInt32LE(p + 24);
    const nameLen = dir.readUInt16LE(p + 28);
    const extraLen = dir.readUInt16LE(p + 30);
    const commentLen = dir.readUInt16LE(p + 32);
    let localOffset = dir.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen > dir.length) corrupt(`central directory entry ${i + 1} of ${count} is damaged`);
    const name = dir.toString('utf8', p + 46, p + 46 + nameLen);
    // zip64 extended information: the 64-bit values of the fields set to 0xffffffff, in this order.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = dir.readUInt16LE(e);
      const len = dir.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const next = () => {
          if (q + 8 > e + 4 + len) corrupt(`record ${name}: short zip64 extra field`);
          const v = u64(dir, q);
          q += 8;
          return v;
        };
        if (uncompressed === 0xffffffff) uncompressed = next();
        if (compressed === 0xffffffff) compressed = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      e += 4 + len;
    }
    if (flags & 1) throw new NeoxError(`${file}: record ${name} is encrypted; torch.save archives are not`, 'checkpoint_corrupt');
    if (method !== 0) {
      throw new NeoxError(
        `${file}: record ${name} is compressed (zip method ${method}${METHODS[method] ? `, ${METHODS[method]}` : ''}); ` +
          'only stored records, as torch.save writes them, can be read tensor by tensor (re-save the checkpoint with torch.save or convert it to safetensors)',
        'checkpoint_compressed',
      );
    }
    if (compressed !== uncompressed) corrupt(`record ${name}: stored with sizes ${compressed} and ${uncompressed}`);
    const local = readAt(fd, localOffset, 30);
    if (local.length < 30 || local.readUInt32LE(0) !== LOCAL) corrupt(`record ${name}: no local header at byte ${localOffset}`);
    const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (dataStart + uncompressed > dirOffset) {
      corrupt(`record ${name} (${uncompressed} bytes at ${dataStart}) runs past the start of the central directory (byte ${dirOffset})`);
    }
    entries.set(name, { name, dataStart, size: uncompressed });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The bytes of one record (for small records such as data.pkl). */
export function readZipEntry(fd: number, entry: ZipEntry): Buffer {
  return readAt(fd, entry.dataStart, entry.size);
}
