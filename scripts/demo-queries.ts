// What a sales analyst asks of the warehouse the demo fills (DuckDB SQL on the tables the loader lands), and a plain
// text table to print the answers.

export interface Query {
  title: string;
  sql: string;
}

export const ANALYST_QUERIES: Query[] = [
  {
    title: 'Open pipeline value by stage and owner (thousands, per currency; "user N": an owner the users table lacks)',
    sql: `SELECT * EXCLUDE (order_nr) FROM (
            PIVOT (
              SELECT p.name AS pipeline, s.order_nr, s.name AS stage, d.currency,
                     coalesce(u.name, 'user ' || d.owner_id) AS owner, d.value
              FROM deals d JOIN stages s ON s.id = d.stage_id JOIN pipelines p ON p.id = s.pipeline_id
                LEFT JOIN users u ON u.id = d.owner_id
              WHERE d.status = 'open'
            ) ON owner USING round(sum(value) / 1000)::INTEGER GROUP BY pipeline, order_nr, stage, currency
          ) ORDER BY pipeline, order_nr, currency`,
  },
  {
    title:
      'Won deals by "Customer type", a custom field of deals: its own column, holding option labels (one deleted since shows as its id)',
    sql: `PIVOT (
            SELECT coalesce(customer_type, '(not set)') AS "customer type", currency, value FROM deals WHERE status = 'won'
          ) ON currency USING count(*) AS deals, round(sum(value))::BIGINT AS value
          GROUP BY "customer type" ORDER BY "customer type"`,
  },
  {
    title: 'Activities per deal, by the status of the deal',
    sql: `SELECT status, count(*) AS deals, sum(n) AS activities, round(avg(n), 2) AS "per deal",
                 count(*) FILTER (WHERE n = 0) AS "deals without any"
          FROM (SELECT d.id, d.status, count(a.id) AS n FROM deals d LEFT JOIN activities a ON a.deal_id = d.id GROUP BY ALL)
          GROUP BY status ORDER BY deals DESC`,
  },
];

/** Rows as a text table: a column per key of the first row, numbers right-aligned, NULL as blank. */
export function textTable(rows: readonly Record<string, unknown>[]): string[] {
  const header = Object.keys(rows[0] ?? {});
  const cells = rows.map((row) => header.map((key) => (row[key] === null ? '' : String(row[key]))));
  const numeric = header.map((_, i) => cells.every((row) => /^-?[\d.]*$/.test(row[i] ?? '')));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (values: string[]) =>
    values
      .map((value, i) => (numeric[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}
