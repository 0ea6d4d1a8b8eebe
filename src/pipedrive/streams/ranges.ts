// Sets of cursor values whose records have all been emitted, as sorted, disjoint half-open ranges.

/** The cursor values [start, end), epoch ms; `start` -Infinity for everything below `end`. */
export interface Range {
  start: number;
  end: number;
}

/** The union of ranges, sorted, overlapping and touching ones merged, empty ones dropped. */
export function union(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter((range) => range.start < range.end).sort((a, b) => a.start - b.start);
  const merged: Range[] = [];
  for (const range of sorted) {
    const last = merged.at(-1);
    if (last && range.start <= last.end) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
  }
  return merged;
}

/** What two unions (sorted and disjoint, as `union` makes them) have in common. */
export function intersection(a: readonly Range[], b: readonly Range[]): Range[] {
  const common: Range[] = [];
  let i = 0;
  let j = 0;
  for (let left = a[0], right = b[0]; left && right; left = a[i], right = b[j]) {
    const start = Math.max(left.start, right.start);
    const end = Math.min(left.end, right.end);
    if (start < end) common.push({ start, end });
    if (left.end < right.end) i++;
    else j++;
  }
  return common;
}

/** Whether `at` lies in one of the ranges. */
export const within = (ranges: readonly Range[], at: number): boolean =>
  ranges.some((range) => range.start <= at && at < range.end);

/** The parts of [start, Infinity) that `covered` (a union) leaves out. */
export function gaps(start: number, covered: readonly Range[]): Range[] {
  const missing: Range[] = [];
  let from = start;
  for (const range of covered) {
    if (range.end <= from) continue;
    if (range.start > from) missing.push({ start: from, end: range.start });
    from = Math.max(from, range.end);
  }
  missing.push({ start: from, end: Infinity });
  return missing;
}
