export { writeFileDurably } from "./durableWrite.js";
export { withFileLock, withFileLockSync, writeLockOf } from "./fileLock.js";
export { fileStateStore } from "./fileStateStore.js";
