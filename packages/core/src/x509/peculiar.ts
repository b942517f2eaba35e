// The one place that loads @peculiar/x509. Its dependency injection (tsyringe) needs the
// Reflect metadata polyfill before the library is evaluated, and it must use the
// platform's WebCrypto (browsers and Node alike) rather than looking for a Node module.
// Every other x509 module imports the library through here, so the order holds.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
