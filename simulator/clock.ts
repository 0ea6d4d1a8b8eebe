/**
 * The simulated company's clock: an instant that moves on with real time and that tests can set or advance (a
 * month in a line of code). It drives everything Pipedrive derives from "now": the `Date` header, the one-month
 * reach of `/v1/recents`, the time of changes a test makes, purges and the daily-budget day. It never reads the
 * machine's date, only how much real time has passed, so nothing depends on the day the tests run. (The burst
 * window is a rate in real time and stays on the machine's clock.)
 */
export class CompanyClock {
  private offset: number;

  constructor(start: number) {
    this.offset = start - Date.now();
  }

  /** The company's current time, epoch ms. */
  now(): number {
    return Date.now() + this.offset;
  }

  set(at: number): void {
    this.offset = at - Date.now();
  }

  advance(ms: number): void {
    this.offset += ms;
  }
}
