/** What an entity is made of: cheap metadata for every row (so lists can be sorted and filtered without building
 * records), and the full record built on demand. */
export interface EntitySpec<R> {
  count: number;
  /** Epoch ms of the row's cursor (update time), and filterable bits (status, folders, …). Must be cheap. */
  meta(index: number): { updated: number; facet?: number };
  /** The record as the API returns it, consistent with meta(index). */
  build(index: number, updated: number): R;
  /** The facet bits of a changed record. */
  facet?(record: R): number;
}

type Row = { index: number; time: number };

/**
 * One entity's rows. Generated rows cost nothing until read; rows changed by a test are kept as overrides. Rows are
 * addressed by index (1-based; the record id for all entities but goals).
 */
export class Table<R extends object> {
  private readonly times: number[] = [0];
  private readonly facets: number[] = [0];
  private readonly overrides = new Map<number, R>();
  private readonly purged = new Map<number, number>();
  private size: number;
  private sorted?: { byTime: Int32Array; byIndex: Int32Array };
  private readonly jsonCache = new Map<string, (string | undefined)[]>();

  constructor(
    readonly name: string,
    private readonly spec: EntitySpec<R>,
  ) {
    this.size = spec.count;
    for (let index = 1; index <= spec.count; index++) {
      const meta = spec.meta(index);
      this.times.push(meta.updated);
      this.facets.push(meta.facet ?? 0);
    }
  }

  get count(): number {
    return this.size - this.purged.size;
  }

  /** The highest row index ever used. */
  get lastIndex(): number {
    return this.size;
  }

  exists(index: number): boolean {
    return index >= 1 && index <= this.size && !this.purged.has(index);
  }

  time(index: number): number {
    return this.times[index]!;
  }

  facet(index: number): number {
    return this.facets[index]!;
  }

  get(index: number): R | undefined {
    if (!this.exists(index)) return undefined;
    return this.overrides.get(index) ?? this.spec.build(index, this.times[index]!);
  }

  /** The record serialised, cached per variant (e.g. per include_fields) until the row changes. */
  json(index: number, variant: string, render: (record: R) => string): string {
    if (this.overrides.has(index)) return render(this.overrides.get(index)!);
    let cache = this.jsonCache.get(variant);
    if (!cache) this.jsonCache.set(variant, (cache = []));
    return (cache[index] ??= render(this.spec.build(index, this.times[index]!)));
  }

  /** Forgets the serialised records (the entity's fields changed: every record looks different now). */
  forget(): void {
    this.jsonCache.clear();
  }

  /** Live row indexes ordered by (update time, index), or by index. */
  order(by: 'time' | 'index'): Int32Array {
    if (!this.sorted) {
      const live: Row[] = [];
      for (let index = 1; index <= this.size; index++) {
        if (!this.purged.has(index)) live.push({ index, time: this.times[index]! });
      }
      const byIndex = Int32Array.from(live, (row) => row.index);
      live.sort((a, b) => a.time - b.time || a.index - b.index);
      this.sorted = { byTime: Int32Array.from(live, (row) => row.index), byIndex };
    }
    return by === 'time' ? this.sorted.byTime : this.sorted.byIndex;
  }

  /** Replaces a row's record (a test changed it at `time`). */
  put(index: number, record: R, time: number): void {
    if (index > this.size) {
      for (let i = this.size + 1; i <= index; i++) {
        this.times.push(time);
        this.facets.push(0);
      }
      this.size = index;
    }
    this.overrides.set(index, record);
    this.times[index] = time;
    this.facets[index] = this.spec.facet?.(record) ?? 0;
    this.changed();
  }

  /** Removes a row for good, as Pipedrive does 30 days after a deletion. */
  purge(index: number, time: number): void {
    this.purged.set(index, time);
    this.overrides.delete(index);
    this.changed();
  }

  /** Rows purged at or after `since`, with when. */
  purgedSince(since: number): [number, number][] {
    return [...this.purged.entries()].filter(([, time]) => time >= since);
  }

  build(index: number, updated: number): R {
    return this.spec.build(index, updated);
  }

  private changed(): void {
    this.sorted = undefined;
  }
}
