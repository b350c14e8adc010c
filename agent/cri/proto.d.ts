// Bun imports .proto files as text (`with { type: "text" }`), which also embeds them in
// `bun build --compile` binaries.
declare module "*.proto" {
  const text: string;
  export default text;
}
