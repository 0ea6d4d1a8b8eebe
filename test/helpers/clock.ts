import sinon from 'sinon';

/**
 * Sinon fake timers for setTimeout and Date only, so sockets stay real. `settle` drives a promise to completion:
 * it lets real I/O run and, whenever the code under test is only waiting on a timer, jumps to that timer (so the
 * network looks infinitely fast).
 * `elapsed()` is the virtual time passed since the test started.
 */
export function useFakeClock() {
  let clock: sinon.SinonFakeTimers;
  let start = 0;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    start = clock.now;
  });
  afterEach(() => clock.restore());
  return {
    elapsed: () => clock.now - start,
    /** `busy` says whether real I/O is still under way (requests in flight); time jumps only when it is not. */
    async settle<T>(promise: Promise<T>, busy: () => boolean = () => false): Promise<T> {
      let done = false;
      promise.then(
        () => (done = true),
        () => (done = true),
      );
      while (!done) {
        await new Promise((resolve) => setImmediate(resolve));
        if (!done && !busy() && clock.countTimers() > 0) await clock.nextAsync();
      }
      return promise;
    },
  };
}
