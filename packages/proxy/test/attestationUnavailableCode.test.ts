import { describe, expect, it } from "vitest";
import { AttestationUnavailableError } from "../src/confidentialErrors.js";

describe("the gateway's attestation_unavailable names the node's own code", () => {
  it("keeps a node's code (no confidential compute vs. not for now), never free text from it", () => {
    const unsupported = new AttestationUnavailableError(400, "confidential_unsupported");
    expect(unsupported.code).toBe("attestation_unavailable");
    expect(unsupported.nodeCode).toBe("confidential_unsupported");
    expect(unsupported.message).toContain("it answered 400 confidential_unsupported");
    expect(new AttestationUnavailableError(503, "attestation_record_stale").nodeCode).toBe(
      "attestation_record_stale",
    );
    // A node's text is not passed on as a code: a lying node cannot write into the gateway's message or logs.
    const lying = new AttestationUnavailableError(500, "x\nforged log line: a prompt");
    expect(lying.nodeCode).toBeUndefined();
    expect(lying.message).not.toContain("forged");
  });
});
