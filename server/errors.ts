// Every error the API returns is a Kubernetes Status with the right reason and code.
import type { FieldError, RegisteredResource } from "../schemas/registry";

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return statusObject(this.code, this.reason, this.message, this.details);
  }
}

export function statusObject(code: number, reason: string, message: string, details?: StatusDetails): Record<string, unknown> {
  const s: Record<string, unknown> = { kind: "Status", apiVersion: "v1", metadata: {}, status: code < 400 ? "Success" : "Failure", message, reason, code };
  if (details) s.details = details;
  if (!reason) delete s.reason;
  return s;
}

/** "pods" or "deployments.apps", as Kubernetes names a resource in messages. */
export function qualifiedResource(r: RegisteredResource): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

export const notFound = (r: RegisteredResource, name: string) =>
  new ApiError(404, "NotFound", `${qualifiedResource(r)} "${name}" not found`, { name, group: r.group || undefined, kind: r.plural });

export const namespaceNotFound = (ns: string) => new ApiError(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" });

export const alreadyExists = (r: RegisteredResource, name: string) =>
  new ApiError(409, "AlreadyExists", `${qualifiedResource(r)} "${name}" already exists`, { name, group: r.group || undefined, kind: r.plural });

export const conflict = (r: RegisteredResource, name: string, why = "the object has been modified; please apply your changes to the latest version and try again") =>
  new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${qualifiedResource(r)} "${name}": ${why}`, { name, group: r.group || undefined, kind: r.plural });

export function invalid(r: { kind: string; group: string }, name: string, errs: FieldError[]): ApiError {
  const parts = errs.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message));
  const list = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return new ApiError(422, "Invalid", `${r.kind} "${name}" is invalid: ${list}`, {
    name,
    group: r.group || undefined,
    kind: r.kind,
    causes: errs.map((e) => ({ reason: e.type, message: e.message, field: e.field })),
  });
}

export const badRequest = (message: string, details?: StatusDetails) => new ApiError(400, "BadRequest", message, details);
export const forbidden = (message: string) => new ApiError(403, "Forbidden", message);
export const methodNotAllowed = (message = "the server does not allow this method on the requested resource") =>
  new ApiError(405, "MethodNotAllowed", message);
export const notAcceptable = (message: string) => new ApiError(406, "NotAcceptable", message);
export const unsupportedMediaType = (ct: string, accepted: string[]) =>
  new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format (${ct || "none"}) - accepted media types include: ${accepted.join(", ")}`);
export const tooLarge = (limit: number) => new ApiError(413, "RequestEntityTooLarge", `the request body is too large: limit is ${limit} bytes`);
export const expired = (message: string) => new ApiError(410, "Expired", message);
export const timeoutError = (message: string) => new ApiError(504, "Timeout", message);
export const unavailable = (message: string) => new ApiError(503, "ServiceUnavailable", message);
export const pathNotFound = (path: string) => new ApiError(404, "NotFound", `the server could not find the requested resource (${path})`);
