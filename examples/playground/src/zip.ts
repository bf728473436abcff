// A zip archive of files stored uncompressed (method 0), so the adapters download as one file: local headers,
// the data, a central directory and its end record (PKWARE APPNOTE 4.3), with a CRC-32 of every file. Adapters are
// float tensors that barely compress; storing them keeps this short and dependency-free.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, the zip and gzip one) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The zip archive of `files` (name → bytes, '/'-separated names), stored, in the map's order. */
export function zipStored(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const utf8 = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    const nameBytes = utf8.encode(name);
    const crc = crc32(data);
    // local file header: signature, version 2.0, flags (bit 11: UTF-8 names), method 0, time, date, crc, sizes
    const local = header(30, nameBytes, (v) => {
      v.setUint32(0, 0x04034b50, true);
      v.setUint16(4, 20, true);
      v.setUint16(6, 0x0800, true);
      v.setUint16(8, 0, true);
      v.setUint16(10, 0, true);
      v.setUint16(12, 0x21, true); // 1980-01-01
      v.setUint32(14, crc, true);
      v.setUint32(18, data.length, true);
      v.setUint32(22, data.length, true);
      v.setUint16(26, nameBytes.length, true);
      v.setUint16(28, 0, true);
    });
    central.push(
      header(46, nameBytes, (v) => {
        v.setUint32(0, 0x02014b50, true);
        v.setUint16(4, 20, true);
        v.setUint16(6, 20, true);
        v.setUint16(8, 0x0800, true);
        v.setUint16(10, 0, true);
        v.setUint16(12, 0, true);
        v.setUint16(14, 0x21, true);
        v.setUint32(16, crc, true);
        v.setUint32(20, data.length, true);
        v.setUint32(24, data.length, true);
        v.setUint16(28, nameBytes.length, true);
        v.setUint32(42, offset, true); // the local header's offset; comment, disk, attributes: 0
      }),
    );
    parts.push(local, data);
    offset += local.length + data.length;
  }
  const size = central.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, files.size, true);
  v.setUint16(10, files.size, true);
  v.setUint32(12, size, true);
  v.setUint32(16, offset, true);
  const out = new Uint8Array(offset + size + end.length);
  let at = 0;
  for (const p of [...parts, ...central, end]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A record of `fixed` bytes written by `fill`, followed by the name. */
function header(fixed: number, name: Uint8Array, fill: (v: DataView) => void): Uint8Array {
  const out = new Uint8Array(fixed + name.length);
  fill(new DataView(out.buffer));
  out.set(name, fixed);
  return out;
}
