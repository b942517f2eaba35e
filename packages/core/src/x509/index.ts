export {
  type CertificateAuthority,
  type CertificateAuthorityMaterial,
  type CreateCertificateAuthorityOptions,
  certificateAuthorityAppId,
  createCertificateAuthority,
  type LoadCertificateAuthorityOptions,
  loadCertificateAuthority,
} from "./ca.js";
export { CertificateError, type CertificateErrorReason } from "./errors.js";
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
