/** Where progress goes: stderr, redrawn in place on a terminal, else a line every tenth of the way. */
export interface ProgressSink {
  isTTY?: boolean | undefined;
  write(text: string): unknown;
}

export interface Progress {
  update(done: number, detail: string): void;
  finish(): void;
}

const WIDTH = 30;

export function createProgress(total: number, sink: ProgressSink): Progress {
  const started = performance.now();
  let lastTenth = -1;
  let drawn = false;
  const line = (done: number, detail: string) => {
    const share = total === 0 ? 1 : done / total;
    const filled = Math.round(share * WIDTH);
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    return `[${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${done}/${total} stacks, ${rate.toFixed(1)} stacks/s ${detail}`;
  };
  return {
    update(done, detail) {
      if (sink.isTTY) {
        sink.write(`\r${line(done, detail)}\x1b[K`);
        drawn = true;
        return;
      }
      const tenth = Math.floor((done / Math.max(1, total)) * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        sink.write(`${line(done, detail)}\n`);
      }
    },
    finish() {
      if (drawn) sink.write("\n");
    },
  };
}
