import type { Position } from "./ast.js";
import { PermissionQueryError } from "./errors.js";

/** Operators and punctuation, longest spellings first where prefixes overlap. */
export type Punctuator =
  | "=="
  | "!="
  | "<="
  | ">="
  | "<"
  | ">"
  | "&&"
  | "||"
  | "!"
  | "("
  | ")"
  | "["
  | "]"
  | ","
  | ".";

interface TokenBase {
  /** The text as written. */
  readonly raw: string;
  readonly start: Position;
  readonly end: Position;
}

/** Identifiers and keywords alike (`_id`, `true`, `in`, `startsWith`, ...): the parser tells them apart. */
export interface NameToken extends TokenBase {
  readonly kind: "name";
  readonly name: string;
}
export interface StringToken extends TokenBase {
  readonly kind: "string";
  readonly value: string;
}
export interface NumberToken extends TokenBase {
  readonly kind: "number";
  readonly value: number;
}
export interface PunctuatorToken extends TokenBase {
  readonly kind: "punctuator";
  readonly punctuator: Punctuator;
}
export interface EndToken extends TokenBase {
  readonly kind: "end";
}

export type Token = NameToken | StringToken | NumberToken | PunctuatorToken | EndToken;

const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const isNameStart = (c: string | undefined): boolean =>
  c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_" || c === "$");
const isNamePart = (c: string | undefined): boolean => isNameStart(c) || isDigit(c);
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/** How a character is shown in an error: quoted, with invisible ones escaped. */
export function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f || (code >= 0x80 && /\s/u.test(c))) {
    return `'\\u${code.toString(16).padStart(4, "0")}'`;
  }
  return `'${c}'`;
}

/** The position of `offset` in `text`, for errors raised before tokens exist (e.g. the length limit). */
export function positionAt(text: string, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1 };
}

/**
 * Splits a query into tokens. Whitespace is space, tab, CR and LF; a line ends at LF.
 * Errors point at the first character that cannot start or continue a token.
 */
export function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (offset: number): Position => ({ offset, line, column: offset - lineStart + 1 });
  const fail = (offset: number, problem: string, expected?: readonly string[], found?: string): never => {
    throw new PermissionQueryError({
      query,
      position: pos(offset),
      problem,
      ...(expected !== undefined && { expected }),
      ...(found !== undefined && { found }),
    });
  };

  while (i < query.length) {
    const c = query[i] as string;
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "\n") {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    const start = pos(i);
    const next = query[i + 1];

    if (isNameStart(c)) {
      let j = i + 1;
      while (isNamePart(query[j])) j++;
      const name = query.slice(i, j);
      i = j;
      tokens.push({ kind: "name", name, raw: name, start, end: pos(i) });
      continue;
    }

    if (isDigit(c) || (c === "-" && isDigit(next))) {
      i = lexNumber(i);
      const raw = query.slice(start.offset, i);
      const value = Number(raw);
      if (!Number.isFinite(value)) fail(start.offset, `number ${raw} is out of range`);
      tokens.push({ kind: "number", value, raw, start, end: pos(i) });
      continue;
    }
    if (c === "-") {
      fail(i, "'-' must be followed by digits (it only starts a negative number)", ["a digit"]);
    }

    if (c === "'" || c === '"') {
      const value = lexString(i, c);
      const raw = query.slice(start.offset, i);
      tokens.push({ kind: "string", value, raw, start, end: pos(i) });
      continue;
    }

    const two = query.slice(i, i + 2);
    if (two === "==" || two === "!=") {
      if (query[i + 2] === "=") {
        fail(i, `'${two}=' is not an operator; use '${two}' (comparisons are always strict)`, [`'${two}'`]);
      }
    }
    if (two === "==" || two === "!=" || two === "<=" || two === ">=" || two === "&&" || two === "||") {
      i += 2;
      tokens.push({ kind: "punctuator", punctuator: two, raw: two, start, end: pos(i) });
      continue;
    }
    if (c === "=") fail(i, "'=' is not an operator; use '==' to compare", ["'=='"], "'='");
    if (c === "&") fail(i, "'&' is not an operator; use '&&'", ["'&&'"], "'&'");
    if (c === "|") fail(i, "'|' is not an operator; use '||'", ["'||'"], "'|'");
    if (
      c === "<" ||
      c === ">" ||
      c === "!" ||
      c === "(" ||
      c === ")" ||
      c === "[" ||
      c === "]" ||
      c === "," ||
      c === "."
    ) {
      i++;
      tokens.push({ kind: "punctuator", punctuator: c, raw: c, start, end: pos(i) });
      continue;
    }

    const ch = String.fromCodePoint(query.codePointAt(i) ?? 0);
    const hint = /\p{L}/u.test(ch)
      ? " (names after '.' are ASCII identifiers; write other keys in brackets, e.g. _id['näme'])"
      : "";
    fail(i, `unexpected character ${describeChar(ch)}${hint}`, undefined, describeChar(ch));
  }
  tokens.push({ kind: "end", raw: "", start: pos(i), end: pos(i) });
  return tokens;

  /** JSON's number grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? ; returns the offset after it. */
  function lexNumber(from: number): number {
    let j = from;
    if (query[j] === "-") j++;
    if (query[j] === "0") {
      j++;
      if (isDigit(query[j])) fail(from, "numbers cannot have leading zeros", undefined, `'${query[j - 1]}'`);
    } else {
      while (isDigit(query[j])) j++;
    }
    if (query[j] === ".") {
      j++;
      if (!isDigit(query[j])) fail(j, "expected digits after the decimal point", ["a digit"]);
      while (isDigit(query[j])) j++;
    }
    if (query[j] === "e" || query[j] === "E") {
      j++;
      if (query[j] === "+" || query[j] === "-") j++;
      if (!isDigit(query[j])) fail(j, "expected digits in the exponent", ["a digit"]);
      while (isDigit(query[j])) j++;
    }
    if (isNamePart(query[j])) fail(j, `unexpected ${describeChar(query[j] as string)} after a number`);
    return j;
  }

  /** A quoted string with JSON's escapes plus \' ; advances `i` past the closing quote. */
  function lexString(from: number, quote: string): string {
    let j = from + 1;
    let out = "";
    let chunk = j;
    for (;;) {
      if (j >= query.length) {
        fail(from, `string is not closed; expected a closing ${quote}`, [quote === "'" ? `"'"` : `'"'`]);
      }
      const d = query[j] as string;
      if (d === quote) break;
      if (d === "\n" || d.charCodeAt(0) < 0x20) {
        fail(j, `control character ${describeChar(d)} in a string; write it as an escape such as \\n`);
      }
      if (d !== "\\") {
        j++;
        continue;
      }
      out += query.slice(chunk, j);
      const e = query[j + 1];
      if (e === "u") {
        const hex = query.slice(j + 2, j + 6);
        if (hex.length < 4 || ![...hex].every(isHex)) {
          fail(j, "\\u must be followed by four hexadecimal digits", ["four hexadecimal digits"]);
        }
        out += String.fromCharCode(Number.parseInt(hex, 16));
        j += 6;
      } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e];
        j += 2;
      } else {
        fail(j, `unknown escape ${e === undefined ? "at the end of the query" : `'\\${e}'`}`, [
          "\\\\",
          "\\'",
          '\\"',
          "\\/",
          "\\b",
          "\\f",
          "\\n",
          "\\r",
          "\\t",
          "\\uXXXX",
        ]);
      }
      chunk = j;
    }
    out += query.slice(chunk, j);
    i = j + 1;
    return out;
  }
}
