import { MeshauthError } from "../errors.js";
import type { Position } from "./ast.js";
import type { Direction } from "./types.js";

/** Where in a permission set a fault is, for messages and for the hub's error body. */
export interface PermissionsErrorLocation {
  /** For example `read.queriesByCollection.cars[1]`; empty for the set as a whole. */
  readonly path: string;
  readonly direction?: Direction;
  readonly collection?: string;
  readonly index?: number;
}

/** Long texts are cut in messages and error bodies; the full text stays on the error object. */
const SHOWN_QUERY_LENGTH = 200;

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/**
 * A permission set was refused: wrong shape, over a limit, or (as the subclass
 * {@link PermissionQueryError}) a query that does not parse or check. Code `invalid_permissions`.
 */
export class PermissionsError extends MeshauthError {
  override name = "PermissionsError";
  /** Where the fault is, e.g. `write.queriesByCollection.orders`; empty for the whole set. */
  readonly path: string;
  readonly direction: Direction | undefined;
  readonly collection: string | undefined;
  readonly index: number | undefined;
  /** What is wrong, without the location (the message adds it). */
  readonly problem: string;

  constructor(
    location: PermissionsErrorLocation,
    problem: string,
    message?: string,
    details: Record<string, unknown> = {},
  ) {
    super("invalid_permissions", message ?? (location.path ? `${location.path}: ${problem}` : problem), {
      path: location.path,
      ...(location.direction !== undefined && { direction: location.direction }),
      ...(location.collection !== undefined && { collection: location.collection }),
      ...(location.index !== undefined && { index: location.index }),
      ...details,
    });
    this.path = location.path;
    this.direction = location.direction;
    this.collection = location.collection;
    this.index = location.index;
    this.problem = problem;
  }
}

/** The parts of a query error that the lexer, parser and checker know. */
export interface QueryFault {
  /** The query text. */
  readonly query: string;
  readonly position: Position;
  /** What is wrong, e.g. `expected '==', '!=', ... found '='`. */
  readonly problem: string;
  /** What would have been accepted at `position`, e.g. `["'=='", "'in'"]`; empty when not a syntax error. */
  readonly expected?: readonly string[];
  /** What was there instead, e.g. `'='` or `end of query`. */
  readonly found?: string;
}

/**
 * A permission query that does not parse, names something outside `_id`, misuses an
 * operator, or exceeds a limit. Carries the query, where the fault is (offset, line,
 * column), what was expected, and, when it came from a permission set, which query of
 * which collection and direction.
 */
export class PermissionQueryError extends PermissionsError {
  override name = "PermissionQueryError";
  readonly query: string;
  /** UTF-16 code units from the start of the query, from 0. */
  readonly offset: number;
  /** From 1. */
  readonly line: number;
  /** From 1, in UTF-16 code units. */
  readonly column: number;
  readonly expected: readonly string[];
  readonly found: string | undefined;

  constructor(fault: QueryFault, location: PermissionsErrorLocation = { path: "" }) {
    const { query, position, problem } = fault;
    const where = `line ${position.line}, column ${position.column}`;
    const quoted = JSON.stringify(shorten(query, SHOWN_QUERY_LENGTH));
    const message = location.path
      ? `${location.path}: invalid query ${quoted} at ${where}: ${problem}`
      : `invalid permission query ${quoted} at ${where}: ${problem}`;
    super(location, problem, message, {
      query: shorten(query, SHOWN_QUERY_LENGTH),
      offset: position.offset,
      line: position.line,
      column: position.column,
      expected: fault.expected ?? [],
      ...(fault.found !== undefined && { found: fault.found }),
    });
    this.query = query;
    this.offset = position.offset;
    this.line = position.line;
    this.column = position.column;
    this.expected = Object.freeze([...(fault.expected ?? [])]);
    this.found = fault.found;
  }

  /** The same fault, placed in a permission set (used when validating a whole set). */
  at(location: PermissionsErrorLocation): PermissionQueryError {
    return new PermissionQueryError(
      {
        query: this.query,
        position: { offset: this.offset, line: this.line, column: this.column },
        problem: this.problem,
        expected: this.expected,
        ...(this.found !== undefined && { found: this.found }),
      },
      location,
    );
  }

  /**
   * The faulty line of the query with a caret under the fault, for terminals and logs:
   *
   *     _id.owner = 'u1'
   *               ^
   */
  excerpt(): string {
    const lines = this.query.split("\n");
    const text = (lines[this.line - 1] ?? "").replace(/\r$/, "");
    const start = Math.max(0, this.column - 1 - 60);
    const shown = text.slice(start, start + 120);
    const pad = shown.slice(0, this.column - 1 - start).replace(/[^\t]/g, " ");
    return `${shown}\n${pad}^`;
  }
}
