// Reads parts of a certificate straight from its DER. @peculiar/x509 re-encodes parsed
// extensions through asn1js, which loses OID arcs above 2^53, so extensions under the UUID
// arc (the identity extension) are only recognizable from the original bytes; and issuer
// names are compared byte for byte, as they were signed.

import type { RawExtension } from "./builder.js";
import { toBytes } from "./bytes.js";
import { decodeOidContents, readChildren, readOnly, TAG, type Tlv } from "./der.js";

/** Every extension of a DER certificate, in order. Throws DerError on malformed DER. */
export function readRawExtensions(certificateDer: ArrayBuffer | Uint8Array): RawExtension[] {
  const certificate = readOnly(toBytes(certificateDer), TAG.SEQUENCE);
  const [tbs] = readChildren(certificate.contents);
  if (!tbs || tbs.tag !== TAG.SEQUENCE) return [];
  const wrapper = readChildren(tbs.contents).find((child) => child.tag === 0xa3);
  if (!wrapper) return [];
  const list = readOnly(wrapper.contents, TAG.SEQUENCE);
  return readChildren(list.contents).map((extension) => {
    const parts = readChildren(extension.contents);
    const [oid, second, third] = parts;
    const critical = second?.tag === 0x01 ? second.contents[0] === 0xff : false;
    const value = second?.tag === TAG.OCTET_STRING ? second : third;
    if (extension.tag !== TAG.SEQUENCE || oid?.tag !== TAG.OID || value?.tag !== TAG.OCTET_STRING) {
      throw new Error("malformed extension");
    }
    return { oid: decodeOidContents(oid.contents), critical, value: value.contents };
  });
}

/** The DER of a certificate's issuer and subject names. Throws DerError on malformed DER. */
export function readRawNames(certificateDer: ArrayBuffer | Uint8Array): {
  issuer: Uint8Array;
  subject: Uint8Array;
} {
  const certificate = readOnly(toBytes(certificateDer), TAG.SEQUENCE);
  const [tbs] = readChildren(certificate.contents);
  if (!tbs || tbs.tag !== TAG.SEQUENCE) throw new Error("no TBSCertificate");
  const fields: Tlv[] = readChildren(tbs.contents);
  // [0] version is optional (v1); then serial, signature, issuer, validity, subject.
  const offset = fields[0]?.tag === TAG.CONTEXT_0 ? 1 : 0;
  const issuer = fields[offset + 2];
  const subject = fields[offset + 4];
  if (issuer?.tag !== TAG.SEQUENCE || subject?.tag !== TAG.SEQUENCE) throw new Error("malformed names");
  return { issuer: issuer.encoded, subject: subject.encoded };
}
