/**
 * The parts of an HTTP request the verifier reads. A fetch `Request` fits, and so does
 * Node's `IncomingMessage` (with `url` being the path) or anything with the same shape.
 */
export interface RequestLike {
  method?: string | undefined;
  /** Absolute URL or path with query; only the path is used (the origin comes from `publicUrl`). */
  url?: string | undefined;
  headers: Headers | Record<string, string | string[] | undefined>;
}

/** One header, or undefined. Repeated headers come back joined with ", " (as fetch does). */
export function header(req: RequestLike, name: string): string | undefined {
  const { headers } = req;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** The request's path and query, whether `url` is absolute or already a path. */
export function pathOf(req: RequestLike): string {
  const url = req.url ?? "/";
  if (url.startsWith("/")) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return "/";
  }
}
