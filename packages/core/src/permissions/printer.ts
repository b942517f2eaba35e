import type { LiteralValue, PathNode, QueryNode, StringTestName } from "./ast.js";

/** Ditto's legacy spellings, for printing a test as it was written. */
const LEGACY_NAMES: Record<StringTestName, string> = {
  startsWith: "starts_with",
  endsWith: "ends_with",
  contains: "contains",
};

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * A string literal that reparses to the same string: the quote needing fewer escapes,
 * control characters and lone surrogates escaped (so the text survives UTF-8).
 */
export function printString(value: string): string {
  let singles = 0;
  let doubles = 0;
  for (const c of value) {
    if (c === "'") singles++;
    else if (c === '"') doubles++;
  }
  const quote = singles > doubles ? '"' : "'";
  let out = quote;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    const code = value.charCodeAt(i);
    if (c === quote || c === "\\") out += `\\${c}`;
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else if (code >= 0xd800 && code <= 0xdbff) {
      const low = value.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        out += value.slice(i, i + 2);
        i++;
      } else out += `\\u${code.toString(16)}`;
    } else if (code >= 0xdc00 && code <= 0xdfff) out += `\\u${code.toString(16)}`;
    else out += c;
  }
  return out + quote;
}

export function printLiteral(value: LiteralValue): string {
  if (typeof value === "string") return printString(value);
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  return String(value);
}

export function printPath(path: PathNode): string {
  let out = "_id";
  for (const segment of path.segments) {
    if (segment.kind === "index") out += `[${segment.index}]`;
    else if (IDENTIFIER.test(segment.key)) out += `.${segment.key}`;
    else out += `[${printString(segment.key)}]`;
  }
  return out;
}

/**
 * The canonical text of a query: single spaces around operators, parentheses only where
 * needed to keep the tree, each string test in the spelling it was written in. Parsing the
 * result gives the same tree (positions aside).
 */
export function printQuery(node: QueryNode): string {
  switch (node.kind) {
    case "boolean":
      return String(node.value);
    case "compare":
      return `${printPath(node.path)} ${node.op} ${printLiteral(node.value.value)}`;
    case "in":
      return `${printPath(node.path)} in [${node.values.map((v) => printLiteral(v.value)).join(", ")}]`;
    case "test": {
      if (node.syntax === "method")
        return `${printPath(node.path)}.${node.test}(${printLiteral(node.value.value)})`;
      const name = node.syntax === "legacy" ? LEGACY_NAMES[node.test] : node.test;
      return `${name}(${printPath(node.path)}, ${printLiteral(node.value.value)})`;
    }
    case "regex":
      return `regex(${printPath(node.path)}, ${printLiteral(node.pattern.value)})`;
    case "not": {
      const operand = node.operand;
      const bare =
        operand.kind === "boolean" ||
        operand.kind === "not" ||
        operand.kind === "test" ||
        operand.kind === "regex";
      return bare ? `!${printQuery(operand)}` : `!(${printQuery(operand)})`;
    }
    case "and":
      return node.operands
        .map((o) => (o.kind === "and" || o.kind === "or" ? `(${printQuery(o)})` : printQuery(o)))
        .join(" && ");
    case "or":
      return node.operands.map((o) => (o.kind === "or" ? `(${printQuery(o)})` : printQuery(o))).join(" || ");
  }
}
