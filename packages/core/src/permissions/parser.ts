import {
  type AndNode,
  COMPARISON_OPERATORS,
  type ComparisonOperator,
  LEGACY_STRING_TESTS,
  type LiteralNode,
  type Location,
  type OrNode,
  type PathNode,
  type PathSegment,
  type Position,
  type QueryNode,
  type RegexNode,
  STRING_TESTS,
  type StringTestName,
} from "./ast.js";
import { PermissionQueryError } from "./errors.js";
import { type Punctuator, positionAt, type Token, tokenize } from "./lexer.js";
import { DEFAULT_PERMISSION_LIMITS, type PermissionLimits } from "./limits.js";

/*
 * Grammar (recursive descent, one token of lookahead plus a peek for calls):
 *
 *   query    = or END
 *   or       = and { "||" and }
 *   and      = unary { "&&" unary }
 *   unary    = "!" unary | primary
 *   primary  = "(" or ")" | "true" | "false" | term | FUNCTION "(" path "," literal ")"
 *   FUNCTION = TEST | "starts_with" | "ends_with" | "regex"      (snake_case and regex: Ditto's legacy syntax)
 *   term     = path ( CMP literal | "in" "[" [ literal { "," literal } ] "]" | "." TEST "(" literal ")" )
 *   path     = "_id" { "." NAME | "[" STRING "]" | "[" INDEX "]" }
 *   literal  = STRING | NUMBER | "true" | "false" | "null"
 */

const COMPARISON_SET: ReadonlySet<string> = new Set(COMPARISON_OPERATORS);
const TEST_SET: ReadonlySet<string> = new Set(STRING_TESTS);
const INDEX_PATTERN = /^(0|[1-9][0-9]*)$/;

const EXPECTED_CONDITION = [
  "'('",
  "'!'",
  "an _id path",
  "'true'",
  "'false'",
  "startsWith(",
  "endsWith(",
  "contains(",
] as const;
const EXPECTED_AFTER_PATH = [
  ...COMPARISON_OPERATORS.map((op) => `'${op}'`),
  "'in'",
  "'.startsWith('",
  "'.endsWith('",
  "'.contains('",
  "'.'",
  "'['",
];
const EXPECTED_LITERAL = ["a string", "a number", "'true'", "'false'", "'null'"] as const;

/** `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`. */
function oneOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

/** How a token is named in error messages. */
export function describeToken(token: Token): string {
  switch (token.kind) {
    case "end":
      return "end of query";
    case "string":
      return `string ${token.raw}`;
    case "number":
      return `number ${token.raw}`;
    default:
      return `'${token.raw}'`;
  }
}

/**
 * Parses a query into a syntax tree. Enforces the grammar, the `_id`-only rule, the length
 * limit and the nesting limit; {@link checkQuery} then enforces the typing rules.
 */
export function parse(query: string, limits: PermissionLimits = DEFAULT_PERMISSION_LIMITS): QueryNode {
  if (query.length > limits.maxQueryLength) {
    throw new PermissionQueryError({
      query,
      position: positionAt(query, limits.maxQueryLength),
      problem: `query is ${query.length} characters long; the limit is ${limits.maxQueryLength}`,
    });
  }
  return new Parser(query, tokenize(query), limits.maxQueryDepth).parseQuery();
}

class Parser {
  private index = 0;
  private depth = 0;
  /** End of the last consumed token: where the node being built ends. */
  private lastEnd: Position;

  constructor(
    private readonly query: string,
    private readonly tokens: readonly Token[],
    private readonly maxDepth: number,
  ) {
    this.lastEnd = { offset: 0, line: 1, column: 1 };
  }

  parseQuery(): QueryNode {
    const node = this.parseOr();
    const token = this.peek();
    if (token.kind !== "end") {
      let hint = "";
      if (token.kind === "name" && (token.name === "and" || token.name === "AND")) hint = " (write '&&')";
      if (token.kind === "name" && (token.name === "or" || token.name === "OR")) hint = " (write '||')";
      if (token.kind === "punctuator" && token.punctuator === ")") hint = " (this ')' has no matching '(')";
      this.fail(token, `expected '&&', '||' or the end of the query, found ${describeToken(token)}${hint}`, [
        "'&&'",
        "'||'",
        "end of query",
      ]);
    }
    return node;
  }

  // ---- token helpers -------------------------------------------------------------------

  private peek(ahead = 0): Token {
    // The token list always ends with an "end" token, which is returned for any overrun.
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)] as Token;
  }

  private take(): Token {
    const token = this.peek();
    if (this.index < this.tokens.length - 1) this.index++;
    this.lastEnd = token.end;
    return token;
  }

  private isPunctuator(token: Token, punctuator: Punctuator): boolean {
    return token.kind === "punctuator" && token.punctuator === punctuator;
  }

  private isName(token: Token, name: string): boolean {
    return token.kind === "name" && token.name === name;
  }

  private expectPunctuator(punctuator: Punctuator, expected: readonly string[], context: string): Token {
    const token = this.peek();
    if (!this.isPunctuator(token, punctuator)) {
      this.fail(token, `expected ${oneOf(expected)} ${context}, found ${describeToken(token)}`, expected);
    }
    return this.take();
  }

  private fail(token: Token, problem: string, expected?: readonly string[]): never {
    throw new PermissionQueryError({
      query: this.query,
      position: token.start,
      problem,
      ...(expected !== undefined && { expected }),
      found: describeToken(token),
    });
  }

  private loc(start: Position): Location {
    return { start, end: this.lastEnd };
  }

  /** Parentheses and `!` each open a nesting level; `!(` opens one, not two. */
  private enter(token: Token): void {
    if (++this.depth > this.maxDepth) {
      this.fail(token, `nesting is deeper than ${this.maxDepth} levels of parentheses and '!'`);
    }
  }

  // ---- conditions ----------------------------------------------------------------------

  private parseOr(): QueryNode {
    const first = this.parseAnd();
    if (!this.isPunctuator(this.peek(), "||")) return first;
    const operands: QueryNode[] = [first];
    while (this.isPunctuator(this.peek(), "||")) {
      this.take();
      operands.push(this.parseAnd());
    }
    // At least two operands: the loop ran at least once.
    const node: OrNode = {
      kind: "or",
      operands: operands as [QueryNode, QueryNode, ...QueryNode[]],
      loc: this.loc(first.loc.start),
    };
    return node;
  }

  private parseAnd(): QueryNode {
    const first = this.parseUnary(false);
    if (!this.isPunctuator(this.peek(), "&&")) return first;
    const operands: QueryNode[] = [first];
    while (this.isPunctuator(this.peek(), "&&")) {
      this.take();
      operands.push(this.parseUnary(false));
    }
    // At least two operands: the loop ran at least once.
    const node: AndNode = {
      kind: "and",
      operands: operands as [QueryNode, QueryNode, ...QueryNode[]],
      loc: this.loc(first.loc.start),
    };
    return node;
  }

  /** `levelTaken`: the caller (a `!`) already opened the nesting level a `(` here would open. */
  private parseUnary(levelTaken: boolean): QueryNode {
    const token = this.peek();
    if (this.isPunctuator(token, "!")) {
      this.take();
      this.enter(token);
      const operand = this.parseUnary(true);
      this.depth--;
      return { kind: "not", operand, loc: this.loc(token.start) };
    }
    return this.parsePrimary(levelTaken);
  }

  private parsePrimary(levelTaken: boolean): QueryNode {
    const token = this.peek();
    if (this.isPunctuator(token, "(")) {
      this.take();
      if (!levelTaken) this.enter(token);
      const inner = this.parseOr();
      this.expectPunctuator(
        ")",
        ["')'", "'&&'", "'||'"],
        `to close the '(' at line ${token.start.line}, column ${token.start.column}`,
      );
      if (!levelTaken) this.depth--;
      return inner;
    }
    if (token.kind === "name") {
      const next = this.peek(1);
      if (token.name === "_id") return this.parseTerm();
      if (token.name === "true" || token.name === "false") {
        if (next.kind === "punctuator" && COMPARISON_SET.has(next.punctuator)) this.literalFirst(token);
        this.take();
        return { kind: "boolean", value: token.name === "true", loc: this.loc(token.start) };
      }
      if (token.name === "null") this.literalFirst(token);
      if (this.isPunctuator(next, "(")) {
        if (TEST_SET.has(token.name)) return this.parseFunctionTest(token.name as StringTestName, "function");
        const legacy = Object.hasOwn(LEGACY_STRING_TESTS, token.name)
          ? LEGACY_STRING_TESTS[token.name]
          : undefined;
        if (legacy !== undefined) return this.parseFunctionTest(legacy, "legacy");
        if (token.name === "regex") return this.parseRegex();
        this.fail(
          token,
          `unknown function '${token.name}'; the functions are startsWith, endsWith, contains, starts_with, ends_with and regex`,
          ["startsWith(", "endsWith(", "contains(", "starts_with(", "ends_with(", "regex("],
        );
      }
      if (token.name === "in") this.fail(token, "expected a condition, found 'in'", EXPECTED_CONDITION);
      if (token.name === "not" || token.name === "NOT") {
        this.fail(token, "expected a condition, found 'not' (write '!')", EXPECTED_CONDITION);
      }
      this.fail(
        token,
        `only the immutable _id may be queried: '${token.name}' is not under _id` +
          ` (put access-control fields in the document's _id and write _id.${token.name})`,
        ["an _id path"],
      );
    }
    if (token.kind === "string" || token.kind === "number") this.literalFirst(token);
    this.fail(token, `expected a condition, found ${describeToken(token)}`, EXPECTED_CONDITION);
  }

  /** A literal where a condition starts: either `'a' == _id.x` (path must come first) or junk. */
  private literalFirst(token: Token): never {
    const next = this.peek(1);
    if ((next.kind === "punctuator" && COMPARISON_SET.has(next.punctuator)) || this.isName(next, "in")) {
      this.fail(
        token,
        `a comparison must start with the _id path (write _id.x ${next.raw} ${token.raw}), found ${describeToken(token)}`,
        ["an _id path"],
      );
    }
    this.fail(token, `expected a condition, found ${describeToken(token)}`, EXPECTED_CONDITION);
  }

  /** `startsWith(_id.x, 'a')`, or Ditto's `starts_with(_id.x, 'a')`. */
  private parseFunctionTest(test: StringTestName, syntax: "function" | "legacy"): QueryNode {
    const token = this.take();
    const name = token.kind === "name" ? token.name : test;
    this.take(); // "("
    const path = this.parsePath();
    this.expectPunctuator(",", ["','"], `after the path in ${name}(...)`);
    const value = this.parseLiteral();
    this.expectPunctuator(")", ["')'"], `to close ${name}(...)`);
    return { kind: "test", test, syntax, path, value, loc: this.loc(token.start) };
  }

  /** `regex(_id.code, '^[a-z]+$')`; the pattern is checked and compiled by the checker. */
  private parseRegex(): RegexNode {
    const start = this.take().start;
    this.take(); // "("
    const path = this.parsePath();
    this.expectPunctuator(",", ["','"], "after the path in regex(...)");
    const pattern = this.parseLiteral();
    this.expectPunctuator(")", ["')'"], "to close regex(...)");
    return { kind: "regex", path, pattern, loc: this.loc(start) };
  }

  /** A path followed by what is tested about it. */
  private parseTerm(): QueryNode {
    const path = this.parsePath();
    const start = path.loc.start;
    const token = this.peek();
    if (token.kind === "punctuator" && COMPARISON_SET.has(token.punctuator)) {
      this.take();
      const value = this.parseLiteral();
      const op = token.punctuator as ComparisonOperator;
      return { kind: "compare", op, path, value, loc: this.loc(start) };
    }
    if (this.isName(token, "in")) {
      this.take();
      this.expectPunctuator("[", ["'['"], "after 'in'");
      const values: LiteralNode[] = [];
      if (!this.isPunctuator(this.peek(), "]")) {
        values.push(this.parseLiteral());
        while (this.isPunctuator(this.peek(), ",")) {
          this.take();
          values.push(this.parseLiteral());
        }
      }
      this.expectPunctuator("]", ["','", "']'"], "in the list after 'in'");
      return { kind: "in", path, values, loc: this.loc(start) };
    }
    if (this.isPunctuator(token, ".")) {
      // parsePath stops before `.name(` only when name is a string test.
      const name = this.peek(1);
      const test = name.kind === "name" ? name.name : "";
      if (!TEST_SET.has(test)) throw new Error("unreachable: path stopped before a non-test");
      this.take();
      this.take();
      this.take(); // "("
      const value = this.parseLiteral();
      this.expectPunctuator(")", ["')'"], `to close .${test}(...)`);
      return {
        kind: "test",
        test: test as StringTestName,
        syntax: "method",
        path,
        value,
        loc: this.loc(start),
      };
    }
    const alone =
      token.kind === "end" ||
      (token.kind === "punctuator" &&
        (token.punctuator === "&&" || token.punctuator === "||" || token.punctuator === ")"));
    this.fail(
      token,
      `expected a comparison operator, 'in' or a string test after the path, found ${describeToken(token)}` +
        (alone ? " (a path alone is not a condition; write for example _id.flag == true)" : ""),
      EXPECTED_AFTER_PATH,
    );
  }

  /** `_id` and its segments. Stops before `.startsWith(` and the other tests. */
  private parsePath(): PathNode {
    const root = this.peek();
    if (!this.isName(root, "_id")) {
      if (root.kind === "name" && !["true", "false", "null", "in"].includes(root.name)) {
        this.fail(
          root,
          `only the immutable _id may be queried: '${root.name}' is not under _id (write _id.${root.name})`,
          ["an _id path"],
        );
      }
      this.fail(root, `expected an _id path, found ${describeToken(root)}`, ["an _id path"]);
    }
    this.take();
    const segments: PathSegment[] = [];
    for (;;) {
      const token = this.peek();
      if (this.isPunctuator(token, ".")) {
        const name = this.peek(1);
        if (name.kind !== "name") {
          const hint =
            name.kind === "number"
              ? ` (write _id[${name.raw}] for an array element)`
              : name.kind === "string"
                ? ` (write _id[${name.raw}] for a key that is not an identifier)`
                : "";
          this.fail(name, `expected a key name after '.', found ${describeToken(name)}${hint}`, [
            "a key name",
          ]);
        }
        if (this.isPunctuator(this.peek(2), "(")) {
          if (TEST_SET.has(name.name)) break;
          this.fail(
            name,
            `'${name.name}' is not a string test; the tests are startsWith, endsWith and contains`,
            ["'startsWith'", "'endsWith'", "'contains'"],
          );
        }
        this.take();
        this.take();
        segments.push({ kind: "key", key: name.name, loc: this.loc(token.start) });
        continue;
      }
      if (this.isPunctuator(token, "[")) {
        this.take();
        const inner = this.peek();
        if (inner.kind === "string") {
          this.take();
          this.expectPunctuator("]", ["']'"], "after the key");
          segments.push({ kind: "key", key: inner.value, loc: this.loc(token.start) });
          continue;
        }
        if (inner.kind === "number") {
          if (!INDEX_PATTERN.test(inner.raw) || !Number.isSafeInteger(inner.value)) {
            this.fail(inner, `an array index must be a non-negative integer, found ${inner.raw}`, [
              "a non-negative integer",
            ]);
          }
          this.take();
          this.expectPunctuator("]", ["']'"], "after the index");
          segments.push({ kind: "index", index: inner.value, loc: this.loc(token.start) });
          continue;
        }
        this.fail(
          inner,
          `expected a quoted key or an array index in brackets, found ${describeToken(inner)}`,
          ["a string", "a non-negative integer"],
        );
      }
      break;
    }
    return { kind: "path", segments, loc: this.loc(root.start) };
  }

  private parseLiteral(): LiteralNode {
    const token = this.take();
    const loc = (): Location => ({ start: token.start, end: token.end });
    if (token.kind === "string" || token.kind === "number")
      return { kind: "literal", value: token.value, loc: loc() };
    if (token.kind === "name") {
      if (token.name === "true" || token.name === "false") {
        return { kind: "literal", value: token.name === "true", loc: loc() };
      }
      if (token.name === "null") return { kind: "literal", value: null, loc: loc() };
      if (token.name === "_id") {
        this.fail(
          token,
          "a path can only be compared with a literal, not with another path",
          EXPECTED_LITERAL,
        );
      }
    }
    this.fail(
      token,
      `expected a literal (a string, number, true, false or null), found ${describeToken(token)}`,
      [...EXPECTED_LITERAL],
    );
  }
}
