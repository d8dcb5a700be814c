/** A statement for the database thread; none: close the database. */
export interface PgliteRequest {
  id: number;
  statement?: string | undefined;
  parameters?: unknown[] | undefined;
}

/** The thread's answer to request `id` (0: the database opened, or not). */
export interface PgliteReply {
  id: number;
  rows?: unknown[] | undefined;
  affectedRows?: number | undefined;
  error?: Record<string, unknown> | undefined;
}

/** An error as plain fields (a PostgreSQL error's `code`, `detail`, `constraint`… with its message), to post. */
export function plainError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields: Record<string, unknown> = { name: error.name, message: error.message };
  for (const [name, value] of Object.entries(error))
    if (typeof value === "string" || typeof value === "number") fields[name] = value;
  return fields;
}

/** The error again, on this side: an `Error` with the fields posted. */
export function errorOf(fields: Record<string, unknown>): Error {
  const error = new Error(String(fields.message ?? "the embedded database failed"));
  for (const [name, value] of Object.entries(fields))
    if (name !== "message") Object.assign(error, { [name]: value });
  return error;
}
