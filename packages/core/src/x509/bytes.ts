// Byte helpers that work the same in browsers and Node (no Buffer).

/** Standard base64 (RFC 4648 §4) of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // Chunked so long inputs do not overflow the argument list of fromCharCode.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decodes standard base64, ignoring whitespace; null when the text is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  const compact = text.replace(/\s+/g, "");
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    return null;
  }
  const binary = atob(compact);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** Copies bytes into a fresh Uint8Array (so callers' buffers are never aliased). */
export function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array<ArrayBuffer> {
  const view = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
  const out = new Uint8Array(view.byteLength);
  out.set(view);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A positive serial number: `size` random bytes, top bit clear (positive), next bit set (minimal DER). */
export function randomSerialNumber(size = 16): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(size));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return toHex(bytes);
}

/** Lower-case hex without leading zero bytes, so serials compare equal however they were written. */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[\s:]/g, "").toLowerCase();
  const trimmed = hex.replace(/^(00)+(?=[0-9a-f]{2})/, "");
  return trimmed.length % 2 === 1 ? `0${trimmed}` : trimmed;
}
