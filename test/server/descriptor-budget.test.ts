// The socket budget (src/server/descriptor-budget.ts): RLIMIT_NOFILE read from /proc, less what
// is open, less a reserve; past it sockets are closed at once and the episode is logged once.
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { DescriptorBudget, openFilesLimit, socketBudget } from "../../src/server/descriptor-budget.ts";

test("openFilesLimit reads the soft limit; unlimited or no file is null", () => {
  const dir = mkdtempSync(join(tmpdir(), "tray-limits-"));
  const f = join(dir, "limits");
  writeFileSync(f, "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 4096                 files     \n");
  expect(openFilesLimit(f)).toBe(1024);
  writeFileSync(f, "Max open files            unlimited            unlimited            files     \n");
  expect(openFilesLimit(f)).toBeNull();
  expect(openFilesLimit(join(dir, "missing"))).toBeNull();
});

test("socketBudget: limit - open - min(64, limit/4), at least 1; no limit is no budget", () => {
  expect(socketBudget(1024, 30)).toBe(1024 - 30 - 64);
  expect(socketBudget(64, 20)).toBe(64 - 20 - 16);
  expect(socketBudget(16, 20)).toBe(1);
  expect(socketBudget(null, 20)).toBe(Infinity);
});

class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
}

test("past the budget sockets are destroyed, logged once per episode; below 90% it ends", () => {
  const lines: string[] = [];
  const b = new DescriptorBudget(10, 64, (line) => lines.push(line));
  const held = Array.from({ length: 10 }, () => new FakeSocket());
  for (const s of held) expect(b.admit(s as unknown as Socket)).toBe(true);
  const extra = [new FakeSocket(), new FakeSocket()];
  for (const s of extra) expect(b.admit(s as unknown as Socket)).toBe(false);
  expect(extra.every((s) => s.destroyed)).toBe(true);
  expect(lines.length).toBe(1);
  held[0].emit("close"); // 9 held: not below 9 (90% of 10)
  expect(lines.length).toBe(1);
  held[1].emit("close"); // 8 held
  expect(lines.length).toBe(2);
  expect(lines[1]).toContain("accepting connections again (2 closed unserved");
});
