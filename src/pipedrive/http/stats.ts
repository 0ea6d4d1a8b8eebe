export interface RequestCounts {
  requests: number;
  retries: number;
  rateLimited: number;
  /** Daily-budget tokens spent: the `x-token-cost` of each endpoint, per request Pipedrive answered. */
  tokens: number;
}

const zero = (): RequestCounts => ({ requests: 0, retries: 0, rateLimited: 0, tokens: 0 });

/** Request counts per stream, for logs and benchmarks. */
export class RequestStats {
  private readonly byStream = new Map<string, RequestCounts>();

  of(stream: string): RequestCounts {
    let counts = this.byStream.get(stream);
    if (!counts) this.byStream.set(stream, (counts = zero()));
    return counts;
  }

  total(): RequestCounts {
    const sum = zero();
    for (const counts of this.byStream.values()) {
      for (const key of Object.keys(sum) as (keyof RequestCounts)[]) sum[key] += counts[key];
    }
    return sum;
  }
}
