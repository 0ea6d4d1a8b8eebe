/**
 * The connector's clock for "now" before Pipedrive has said what time it is (the default start date). Once a
 * response has come, the client takes "now" from Pipedrive's `Date` header instead, so the company's clock rules
 * every decision that depends on the time. Tests set it to a simulated company's clock (test/helpers/company-clock.mjs).
 */
export const clock = {
  now: (): number => Date.now(),
};
