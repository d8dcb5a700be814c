import { describe, expect, it } from "vitest";
import { compileSources, SolidityCompileError } from "./compile.js";

describe("compileSources", () => {
  it("compiles a contract that imports OpenZeppelin", () => {
    const { contracts } = compileSources({
      "src/T.sol": {
        content: `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
contract T is ERC20 { constructor() ERC20("t", "T") {} }`,
      },
    });
    expect(contracts.map((c) => c.name)).toEqual(["T"]);
    expect(contracts[0]!.bytecode).toMatch(/^0x[0-9a-f]{100,}$/);
  });

  it("reports errors as file:line:col with solc's message", () => {
    const broken = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
contract Broken {
    function f() public { undefinedThing = 1; }
}`;
    try {
      compileSources({ "src/Broken.sol": { content: broken } }, "contracts/");
      expect.unreachable("compiling a broken contract must throw");
    } catch (error) {
      expect(error).toBeInstanceOf(SolidityCompileError);
      expect((error as SolidityCompileError).diagnostics[0]).toMatch(
        /^contracts\/src\/Broken\.sol:4:27: DeclarationError: Undeclared identifier/,
      );
    }
  });
});
