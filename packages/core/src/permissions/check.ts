import type { LiteralNode, QueryNode } from "./ast.js";
import { PermissionQueryError } from "./errors.js";
import { RegexPatternError, regexMatcher } from "./regex.js";

function describeLiteral(node: LiteralNode): string {
  const v = node.value;
  if (v === null) return "null";
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Typing rules the grammar cannot express. They refuse queries that could never match
 * (an ordering against `null`, `startsWith(5)`), so a mistake in a rule is reported when the
 * rule is issued instead of silently denying access later.
 */
export function checkQuery(node: QueryNode, query: string): QueryNode {
  const fail = (literal: LiteralNode, problem: string, expected: readonly string[]): never => {
    throw new PermissionQueryError({
      query,
      position: literal.loc.start,
      problem,
      expected,
      found: describeLiteral(literal),
    });
  };
  const visit = (n: QueryNode): void => {
    switch (n.kind) {
      case "boolean":
      case "in":
        return;
      case "compare":
        if (
          n.op !== "==" &&
          n.op !== "!=" &&
          typeof n.value.value !== "number" &&
          typeof n.value.value !== "string"
        ) {
          fail(
            n.value,
            `'${n.op}' orders numbers or strings, found ${describeLiteral(n.value)} (use == or != for it)`,
            ["a number", "a string"],
          );
        }
        return;
      case "test":
        if (n.test !== "contains" && typeof n.value.value !== "string") {
          fail(n.value, `${n.test} needs a string, found ${describeLiteral(n.value)}`, ["a string"]);
        }
        return;
      case "regex":
        if (typeof n.pattern.value !== "string")
          fail(n.pattern, `regex needs a string pattern, found ${describeLiteral(n.pattern)}`, ["a string"]);
        try {
          regexMatcher(n); // compiled now, so a bad pattern fails when the rule is validated
        } catch (error) {
          if (error instanceof RegexPatternError) fail(n.pattern, error.message, ["an RE2 pattern"]);
          throw error;
        }
        return;
      case "not":
        visit(n.operand);
        return;
      case "and":
      case "or":
        for (const operand of n.operands) visit(operand);
        return;
    }
  };
  visit(node);
  return node;
}
