/** Every time decision (deadlines, recovery windows, link expiry) goes through the clock, so tests can move time. */
export interface ClockPort {
  now(): Date;
}

export const systemClock: ClockPort = { now: () => new Date() };
