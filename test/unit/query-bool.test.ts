// Boolean query parameters parse like Go's strconv.ParseBool (the Python client sends watch=True).
import { expect, test } from "bun:test";
import { queryBool } from "../../server/api/request";

test("queryBool accepts what strconv.ParseBool accepts and refuses the rest with a 400", () => {
  for (const v of ["1", "t", "T", "true", "TRUE", "True"]) expect(queryBool(v, "watch")).toBe(true);
  for (const v of ["0", "f", "F", "false", "FALSE", "False", "", undefined]) expect(queryBool(v, "watch")).toBe(false);
  for (const v of ["yes", "tRUE", "2", "on"]) expect(() => queryBool(v, "watch")).toThrow(/strconv.ParseBool: parsing/);
});
