import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStateDatabase } from "../openStateDatabase.js";
import { currentBootId, markRunning, mayHaveLostCommits, RUNNING_MARKER, runFile } from "./runningMarker.js";

const root = mkdtempSync(join(tmpdir(), "atoma-marker-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the running marker", () => {
  it("tells a start after a lossy stop (another boot under normal, or a torn marker) from every other start", () => {
    const dir = join(root, "cases");
    mkdirSync(dir);
    const leave = (text: string) => writeFileSync(join(dir, RUNNING_MARKER), text);
    expect(mayHaveLostCommits(dir)).toBe(false); // never ran, or stopped cleanly
    markRunning(dir, "normal");
    expect(JSON.parse(readFileSync(join(dir, RUNNING_MARKER), "utf8"))).toEqual({
      bootId: currentBootId() ?? null,
      synchronous: "normal",
      runId: readFileSync(runFile("/dev/shm", dir), "utf8"),
    });
    expect(mayHaveLostCommits(dir)).toBe(currentBootId() === undefined); // killed on this boot: nothing lost
    // The same boot id but not the same run in memory: a machine restored from a snapshot taken before the run.
    const marker = readFileSync(join(dir, RUNNING_MARKER), "utf8");
    rmSync(runFile("/dev/shm", dir));
    expect(mayHaveLostCommits(dir)).toBe(true);
    markRunning(dir, "normal");
    writeFileSync(runFile("/dev/shm", dir), "another-run");
    expect(mayHaveLostCommits(dir)).toBe(true);
    leave(marker.replace(/"runId":"[^"]*"/, '"runId":"another-run"'));
    expect(mayHaveLostCommits(dir)).toBe(currentBootId() === undefined);
    rmSync(runFile("/dev/shm", dir));
    leave(JSON.stringify({ bootId: "another-boot", synchronous: "normal" }));
    expect(mayHaveLostCommits(dir)).toBe(true);
    leave(JSON.stringify({ bootId: "another-boot", synchronous: "full" }));
    expect(mayHaveLostCommits(dir)).toBe(false); // every commit was synced before it returned
    leave('{"bootId": "a marker cut off mid-wr');
    expect(mayHaveLostCommits(dir)).toBe(true);
  });

  it("is written when the node marks itself running and removed by a clean close, never by a process that did not", async () => {
    const dir = join(root, "db");
    const state = await openStateDatabase({ kind: "embedded", dir });
    state.markRunning();
    expect(readFileSync(join(dir, RUNNING_MARKER), "utf8")).toContain("normal");
    await state.close();
    expect(() => readFileSync(join(dir, RUNNING_MARKER))).toThrow(/ENOENT/);

    writeFileSync(
      join(dir, RUNNING_MARKER),
      JSON.stringify({ bootId: "another-boot", synchronous: "normal" }),
    );
    const tool = await openStateDatabase({ kind: "embedded", dir });
    expect(tool.mayHaveLostCommits).toBe(true);
    await tool.close(); // a tool that opened the database alongside: the node's marker stays for the node
    expect(mayHaveLostCommits(dir)).toBe(true);
  });
});
