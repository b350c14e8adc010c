export * from "./core/types";
export { Raft, type RaftConfig, type Status, type ProgressStatus, type TestingBugs } from "./core/raft";
export { MemoryStorage, CompactedError, UnavailableError, type Storage } from "./core/storage";
export {
  encodeConfChange,
  decodeConfChange,
  applyConfChange,
  validateConfChange,
  bootstrapEntries,
  type ConfChangeEntry,
} from "./core/config";
