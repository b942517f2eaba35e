export {
  type CertificateAuthority,
  type CertificateAuthorityMaterial,
  type CreateCertificateAuthorityOptions,
  certificateAuthorityAppId,
  createCertificateAuthority,
  type LoadCertificateAuthorityOptions,
  loadCertificateAuthority,
} from "./ca.js";
export { canonicalJson } from "./canonical-json.js";
export {
  type CreateCertificateSigningRequestOptions,
  createCertificateSigningRequest,
  type VerifiedCertificateSigningRequest,
  verifyCertificateSigningRequest,
} from "./csr.js";
export {
  type CertificateDescription,
  type CertificateKind,
  describeCertificate,
  inspectCertificate,
} from "./describe.js";
export {
  generateDeviceKey,
  type IssueDeviceCertificateOptions,
  type IssuedDeviceCertificate,
  type IssueForKeyOptions,
  type IssueFromCsrOptions,
  issueDeviceCertificate,
} from "./device.js";
export { CertificateError, type CertificateErrorReason } from "./errors.js";
export {
  type CertificateIdentity,
  IDENTITY_EXTENSION_MAX_BYTES,
  IDENTITY_EXTENSION_OID,
  MESHAUTH_OID_ARC,
  readIdentityExtension,
} from "./identity-extension.js";
export {
  createDeviceCertificateIssuer,
  type DeviceCertificateIssuer,
  type IssuerCrypto,
  type TemplateIssueOptions,
  webIssuerCrypto,
} from "./issuer.js";
export { keyThumbprint } from "./keys.js";
export {
  type CertificateInput,
  certificateToDer,
  decodePem,
  derToPem,
  exportPrivateKeyPem,
  exportPublicKeyPem,
  type PemBlock,
  parseCertificatePem,
  pemToDer,
} from "./pem.js";
export {
  emptyRevocationList,
  isRevoked,
  mergeRevocationLists,
  REVOCATION_LIST_TYPE,
  type RevocationEntries,
  type RevocationList,
  type RevocationListKeys,
  signRevocationList,
  type VerifyRevocationListOptions,
  verifyRevocationList,
} from "./revocation.js";
export {
  createSharedKeyRootCertificate,
  generateSharedKey,
  type IssueSharedKeyCertificateOptions,
  issueSharedKeyCertificate,
  loadSharedKey,
  type SharedKey,
  sharedKeyIssuerName,
} from "./shared-key.js";
export {
  type PeerCertificateInfo,
  type TrustAnchor,
  type VerifiedPeer,
  type VerifyPeerCertificateOptions,
  verifyPeerCertificate,
} from "./verify.js";
