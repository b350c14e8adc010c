// hostPath volume types and their checks (pkg/volume/hostpath: checkType / FileTypeChecker).

import { closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";

export type HostPathType =
  | ""
  | "DirectoryOrCreate"
  | "Directory"
  | "FileOrCreate"
  | "File"
  | "Socket"
  | "CharDevice"
  | "BlockDevice";

export const HOST_PATH_TYPES: HostPathType[] = ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"];

function stat(p: string) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** Creates what *OrCreate asks for and checks the type; throws with kubelet's wording on mismatch. */
export function checkHostPath(path: string, type: string | undefined): void {
  const t = (type ?? "") as HostPathType;
  if (!HOST_PATH_TYPES.includes(t)) throw new Error(`hostPath type ${JSON.stringify(type)} is not supported`);
  let st = stat(path);
  switch (t) {
    case "":
      return;
    case "DirectoryOrCreate":
      if (!st) {
        mkdirSync(path, { recursive: true, mode: 0o755 });
        return;
      }
      if (!st.isDirectory()) throw new Error(`hostPath type check failed: ${path} is not a directory`);
      return;
    case "Directory":
      if (!st) throw new Error(`hostPath type check failed: ${path} is not a directory`);
      if (!st.isDirectory()) throw new Error(`hostPath type check failed: ${path} is not a directory`);
      return;
    case "FileOrCreate":
      if (!st) {
        // Like kubelet, only the file is created: a missing parent directory is an error.
        if (!stat(dirname(path))?.isDirectory()) throw new Error(`hostPath type check failed: cannot create ${path}: parent directory ${dirname(path)} does not exist (FileOrCreate does not create it)`);
        closeSync(openSync(path, "a", 0o644));
        st = stat(path);
      }
      if (st!.isDirectory()) throw new Error(`hostPath type check failed: ${path} is not a file`);
      return;
    case "File":
      if (!st || !st.isFile()) throw new Error(`hostPath type check failed: ${path} is not a file`);
      return;
    case "Socket":
      if (!st || !st.isSocket()) throw new Error(`hostPath type check failed: ${path} is not a socket file`);
      return;
    case "CharDevice":
      if (!st || !st.isCharacterDevice()) throw new Error(`hostPath type check failed: ${path} is not a character device`);
      return;
    case "BlockDevice":
      if (!st || !st.isBlockDevice()) throw new Error(`hostPath type check failed: ${path} is not a block device`);
      return;
  }
}

