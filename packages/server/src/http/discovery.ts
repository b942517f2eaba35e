/**
 * The RFC 8414 metadata document. Features add their endpoints as they are registered,
 * so discovery only ever lists what this hub really serves.
 */
export class Discovery {
  readonly #doc: Record<string, unknown>;

  constructor(readonly issuer: string) {
    this.#doc = { issuer };
  }

  /** Adds members; array members are merged without duplicates. */
  add(members: Record<string, string | string[] | boolean>): void {
    for (const [key, value] of Object.entries(members)) {
      const prev = this.#doc[key];
      this.#doc[key] =
        Array.isArray(prev) && Array.isArray(value) ? [...new Set([...prev, ...value])] : value;
    }
  }

  /** An absolute URL under the issuer for a path. */
  url(path: string): string {
    return `${this.issuer}${path}`;
  }

  document(): Readonly<Record<string, unknown>> {
    return this.#doc;
  }
}
