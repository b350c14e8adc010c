// Kept for imports from before the controller runtime existed.
export { WorkQueue } from "./runtime/queue";
