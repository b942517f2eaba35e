// A deliberately small DER reader and writer, for the few structures this folder handles
// byte by byte: OIDs with 128-bit arcs (asn1js cannot round-trip the UUID arc), the
// identity extension's UTF8String, PKCS#8 keys with explicit curve parameters.

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
} as const;

export class DerError extends Error {
  override name = "DerError";
}

/** One tag-length-value element. */
export interface Tlv {
  tag: number;
  /** The contents (the V), a view into the input. */
  contents: Uint8Array<ArrayBuffer>;
  /** The whole element, header included. */
  encoded: Uint8Array<ArrayBuffer>;
  /** Offset just past the element. */
  end: number;
}

/** Reads one element at `offset`. Definite lengths only, as DER requires. */
export function readTlv(bytes: Uint8Array<ArrayBuffer>, offset = 0): Tlv {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined) throw new DerError("truncated DER element");
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new DerError("unsupported DER length");
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = bytes[offset + 2 + i];
      if (b === undefined) throw new DerError("truncated DER length");
      length = length * 256 + b;
    }
    header += count;
  }
  const end = offset + header + length;
  if (end > bytes.length) throw new DerError("DER element runs past the end of its input");
  return {
    tag,
    contents: bytes.subarray(offset + header, end),
    encoded: bytes.subarray(offset, end),
    end,
  };
}

/** Reads an element that must span all of `bytes` and carry `tag`. */
export function readOnly(bytes: Uint8Array<ArrayBuffer>, tag: number): Tlv {
  const tlv = readTlv(bytes);
  if (tlv.tag !== tag)
    throw new DerError(`expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`);
  if (tlv.end !== bytes.length) throw new DerError("trailing bytes after DER element");
  return tlv;
}

/** The elements inside a constructed element's contents. */
export function readChildren(contents: Uint8Array<ArrayBuffer>): Tlv[] {
  const children: Tlv[] = [];
  let offset = 0;
  while (offset < contents.length) {
    const child = readTlv(contents, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** Encodes one element. */
export function encodeTlv(tag: number, contents: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = contents.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else {
    const lengthBytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n % 256);
    header = [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  }
  const out = new Uint8Array(header.length + length);
  out.set(header);
  out.set(contents, header.length);
  return out;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The contents octets of an OBJECT IDENTIFIER in dotted form; arcs of any size (BigInt). */
export function encodeOidContents(oid: string): Uint8Array<ArrayBuffer> {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(oid)) throw new DerError(`not a dotted OID: ${oid}`);
  const arcs = oid.split(".").map((a) => BigInt(a));
  const [first = 0n, second = 0n, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) group.unshift(Number(n & 0x7fn) | 0x80);
    out.push(...group);
  }
  return new Uint8Array(out);
}

/** Dotted form of an OBJECT IDENTIFIER's contents octets. */
export function decodeOidContents(contents: Uint8Array): string {
  const arcs: bigint[] = [];
  let value = 0n;
  for (const b of contents) {
    value = (value << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80n ? value / 40n : 2n;
        arcs.push(first, value - first * 40n);
      } else arcs.push(value);
      value = 0n;
    }
  }
  return arcs.join(".");
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function encodeUtf8String(text: string): Uint8Array<ArrayBuffer> {
  return encodeTlv(TAG.UTF8_STRING, utf8.encode(text));
}

/** Decodes a DER UTF8String spanning all of `bytes`; invalid UTF-8 is an error. */
export function decodeUtf8String(bytes: Uint8Array<ArrayBuffer>): string {
  try {
    return strictUtf8.decode(readOnly(bytes, TAG.UTF8_STRING).contents);
  } catch (error) {
    if (error instanceof DerError) throw error;
    throw new DerError("UTF8String is not valid UTF-8");
  }
}
