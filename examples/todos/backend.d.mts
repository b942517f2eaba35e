import type { IncomingMessage, ServerResponse } from "node:http";

export interface ExamplePermissions {
  read: { everything: false; queriesByCollection: { todos: string[] } };
  write: { everything: false; queriesByCollection: { todos: string[] } };
}

/** The rules the example gives a person. */
export function rulesFor(name: string): ExamplePermissions;

/** POST /todos/login {name, jkt}: the hub's token answer for that person and device key. */
export function todosLogin(
  req: IncomingMessage,
  res: ServerResponse,
  target: { hub: string; appId: string },
): Promise<void>;
