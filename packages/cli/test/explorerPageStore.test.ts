import { afterEach, describe, expect, it } from "vitest";
import { pageStore } from "../../../apps/explorer/src/playground/pageStore.js";

/** A page's `localStorage` that takes `room` writes and then refuses every one, as a full quota does. */
function storageWithRoom(room: number) {
  const items = new Map<string, string>();
  let left = room;
  return {
    items,
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => {
      if (left <= 0) throw new DOMException("quota exceeded", "QuotaExceededError");
      left -= 1;
      items.set(key, value);
    },
  };
}

describe("the explorer's page store", () => {
  const original = Object.getOwnPropertyDescriptor(globalThis, "localStorage");
  afterEach(() => {
    if (original) Object.defineProperty(globalThis, "localStorage", original);
    else Reflect.deleteProperty(globalThis, "localStorage");
  });

  // Review of issue 13 (second), F: once localStorage was full, writes went to memory while reads still came from
  // localStorage, so every later update of a key (an adopted receipt among them) read back the old text.
  it("reads a key back from the page's memory once localStorage refused its write", async () => {
    const storage = storageWithRoom(1);
    Object.defineProperty(globalThis, "localStorage", { value: storage, configurable: true });
    const store = pageStore();
    await store.set("stack-1", "first");
    expect(await store.get("stack-1")).toBe("first");
    expect(storage.items.get("atoma-explorer/stack-1")).toBe("first");
    await store.set("stack-1", "second, with the adopted receipt");
    expect(await store.get("stack-1")).toBe("second, with the adopted receipt");
    await store.set("stack-1", "third");
    expect(await store.get("stack-1")).toBe("third");
    await store.set("another", "kept in memory too");
    expect(await store.get("another")).toBe("kept in memory too");
  });

  it("keeps what it is given in memory where the page has no localStorage", async () => {
    Object.defineProperty(globalThis, "localStorage", {
      get: () => {
        throw new DOMException("denied", "SecurityError");
      },
      configurable: true,
    });
    const store = pageStore();
    expect(await store.get("k")).toBeUndefined();
    await store.set("k", "v");
    expect(await store.get("k")).toBe("v");
  });
});
