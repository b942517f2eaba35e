import type { KeyExpr } from "@meshauth/sync";
import { type RawBuilder, sql } from "kysely";
import type { Engine } from "../storage/database.js";
import { KEY_COLUMNS } from "./schema.js";

/*
 * A read filter (see @meshauth/sync key-filter.ts) as a SQL condition over the key columns.
 * Every key column of a collection's ID fields is NOT NULL in practice (the hub stores
 * only documents whose ID values are strings), so SQL's three-valued logic never differs
 * from the filter's two values. Equality is byte equality on both engines (deterministic
 * collations); the string tests count characters, which for well-formed strings agrees
 * with JS's code units on whether one string starts with, ends with or contains another.
 */
export function sqlFilter(expr: KeyExpr, engine: Engine): RawBuilder<unknown> {
  switch (expr.kind) {
    case "const":
      return expr.value ? sql`1 = 1` : sql`1 = 0`;
    case "in": {
      const col = column(expr.field);
      if (expr.values.length === 1) return sql`${col} = ${expr.values[0]}`;
      return sql`${col} in (${sql.join(expr.values)})`;
    }
    case "ne":
      return sql`${column(expr.field)} <> ${expr.value}`;
    case "startsWith":
      return engine === "postgres"
        ? sql`starts_with(${column(expr.field)}, ${expr.value})`
        : sql`substr(${column(expr.field)}, 1, length(${expr.value})) = ${expr.value}`;
    case "endsWith":
      return engine === "postgres"
        ? sql`right(${column(expr.field)}, length(${expr.value})) = ${expr.value}`
        : sql`substr(${column(expr.field)}, -length(${expr.value})) = ${expr.value}`;
    case "contains":
      return engine === "postgres"
        ? sql`strpos(${column(expr.field)}, ${expr.value}) > 0`
        : sql`instr(${column(expr.field)}, ${expr.value}) > 0`;
    case "not":
      return sql`not (${sqlFilter(expr.operand, engine)})`;
    case "and":
      return sql`(${sql.join(
        expr.operands.map((o) => sqlFilter(o, engine)),
        sql` and `,
      )})`;
    case "or":
      return sql`(${sql.join(
        expr.operands.map((o) => sqlFilter(o, engine)),
        sql` or `,
      )})`;
  }
}

function column(field: number): RawBuilder<unknown> {
  const name = KEY_COLUMNS[field];
  if (name === undefined) throw new RangeError(`no key column for ID field ${field}`);
  return sql.ref(`sync_documents.${name}`) as unknown as RawBuilder<unknown>;
}
