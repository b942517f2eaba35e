// RFC 3986 §2.3: percent-encodings of these are equivalent to the characters themselves.
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The form in which `htu` values are compared (RFC 9449 §4.3, RFC 3986 §6.2.2-6.2.3):
 * an http(s) URL with scheme and host lowercased, the default port dropped, dot
 * segments removed, an empty path as `/`, percent-encodings of unreserved characters
 * decoded and the rest in upper case, and no query or fragment. The WHATWG URL parser
 * (the same in browsers and Node) does everything but the percent-encoding part.
 * Throws a TypeError for anything that is not an absolute http(s) URL, or that carries
 * user information.
 */
export function normalizeHtu(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError("htu is not an absolute URL");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new TypeError("htu must be an http or https URL");
  }
  // A URL with credentials in it is never one a client should sign for.
  if (parsed.username !== "" || parsed.password !== "") {
    throw new TypeError("htu must not contain user information");
  }
  const path = parsed.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${parsed.protocol}//${parsed.host}${path === "" ? "/" : path}`;
}
