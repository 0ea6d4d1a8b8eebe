// The tokens of Pipedrive's daily budget a sync spends, counted before each request is sent, against an optional cap.
import { ConnectorError } from '../../airbyte/errors.js';
import { codeFile, readJson } from '../../airbyte/paths.js';

const TOKEN_COSTS = readJson<Record<string, number>>(codeFile('pipedrive/http/token-costs.json'));

/** What a request to `endpoint` costs in the daily budget, as Pipedrive's OpenAPI documents say. Every endpoint the
 * connector calls has a documented cost (test/token-costs.test.ts holds the table to that); none is taken to be free. */
export function tokenCost(endpoint: string): number {
  const cost = TOKEN_COSTS[`GET ${endpoint}`];
  if (cost === undefined) throw new ConnectorError(`No known token cost for GET ${endpoint}.`, 'system_error');
  return cost;
}

/** The tokens ran out: the sync's cap (`cap`), or the company's daily budget (`daily`). */
export class BudgetExhausted extends ConnectorError {
  constructor(
    readonly budget: 'cap' | 'daily',
    message: string,
    internalMessage: string,
  ) {
    super(message, 'transient_error', { internalMessage });
  }
}

export class TokenLedger {
  /** Tokens of the requests sent and not refused. */
  private committed = 0;

  /** `cap`: the most tokens the sync may spend, if any. */
  constructor(private readonly cap: number | undefined) {}

  /** Tokens still to spend (Infinity without a cap). */
  get left(): number {
    return (this.cap ?? Infinity) - this.committed;
  }

  /** Counts a request before it is sent and returns its cost; one that would pass the cap is refused instead. */
  commit(endpoint: string): number {
    const cost = tokenCost(endpoint);
    if (this.cap !== undefined && this.committed + cost > this.cap) {
      throw new BudgetExhausted(
        'cap',
        `This sync has spent ${this.committed} of the ${this.cap} tokens its cap allows; stopped before GET ${endpoint} (${cost} more). The next sync resumes what was left.`,
        `token budget ${this.cap} reached`,
      );
    }
    this.committed += cost;
    return cost;
  }

  /** Gives back the cost of a request Pipedrive did not charge (it was refused, or never answered). */
  refund(cost: number): void {
    this.committed -= cost;
  }
}
