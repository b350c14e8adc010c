export interface PatchCause {
  field: string;
  type: string;
  message: string;
}

/** A patch failure that the API layer turns into a Kubernetes Status with this code and reason. */
export class PatchError extends Error {
  constructor(
    public code: number,
    public reason: string,
    message: string,
    public causes?: PatchCause[],
  ) {
    super(message);
    this.name = "PatchError";
  }
}

export const badRequest = (msg: string) => new PatchError(400, "BadRequest", msg);
export const invalid = (msg: string) => new PatchError(422, "Invalid", msg);
