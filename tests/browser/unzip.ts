// Reads a zip archive of stored (uncompressed) files, as the playground writes them: the end record, the central
// directory, and each entry's data after its local header. Enough to check what the page offered for download.

/** name → bytes of every entry. Throws on anything but a well-formed archive of stored entries. */
export function unzipStored(zip: Uint8Array): Map<string, Uint8Array> {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const end = zip.byteLength - 22; // no archive comment
  if (end < 0 || v.getUint32(end, true) !== 0x06054b50)
    throw new Error('zip: no end-of-central-directory record');
  const count = v.getUint16(end + 10, true);
  let at = v.getUint32(end + 16, true);
  const out = new Map<string, Uint8Array>();
  const utf8 = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (v.getUint32(at, true) !== 0x02014b50) throw new Error(`zip: central entry ${i} has a bad signature`);
    const method = v.getUint16(at + 10, true);
    const size = v.getUint32(at + 20, true);
    const nameLength = v.getUint16(at + 28, true);
    const extra = v.getUint16(at + 30, true);
    const comment = v.getUint16(at + 32, true);
    const local = v.getUint32(at + 42, true);
    const name = utf8.decode(zip.subarray(at + 46, at + 46 + nameLength));
    if (method !== 0) throw new Error(`zip: ${name} is compressed (method ${method}); expected stored`);
    if (v.getUint32(local, true) !== 0x04034b50) throw new Error(`zip: ${name} has no local header`);
    const data = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    out.set(name, zip.slice(data, data + size));
    at += 46 + nameLength + extra + comment;
  }
  return out;
}
