// Metrics files on disk, read for plotting (plot.ts).
import { readJsonl } from '../util/jsonl-node.js';

/**
 * Reads a JSONL metrics file (util/jsonl.ts): one JSON object per line, blank lines skipped. A torn last line
 * (no final newline, as after a crash mid-write) is ignored; any other bad line is a FormatError naming the line.
 */
export async function readMetricsJsonl(path: string): Promise<Record<string, unknown>[]> {
  const { records } = await readJsonl(path, { ignoreTornTail: true });
  return records.map((r) => r.value);
}
