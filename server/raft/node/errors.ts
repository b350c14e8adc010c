// The two ways a write or read fails at the consensus layer, as Kubernetes Status errors.
import { ApiError } from "../../errors";

/** 503: certainly not applied (no leader, not sent, shutting down); the client may retry. */
export function unavailable(msg: string): ApiError {
  return new ApiError(503, "ServiceUnavailable", msg);
}

/** 504: the write may or may not have been applied. */
export function unknownOutcome(msg: string): ApiError {
  return new ApiError(504, "Timeout", msg);
}
