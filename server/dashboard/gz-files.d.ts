// Bun's `with { type: "file" }` imports give the file's path (in the binary: its embedded path).
declare module "*.gz" {
  const path: string;
  export default path;
}
