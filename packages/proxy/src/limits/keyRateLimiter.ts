import type { KeyLimits, RateTicket } from "./rateLimiter.js";

/** Requests and tokens per minute per key: in this process (`RateLimiter`) or shared through Redis. */
export interface KeyRateLimiter {
  /** Throws `RateLimitExceededError` (with the wait) when either allowance is short; takes nothing then. */
  take(limits: KeyLimits, maxTokens: number): RateTicket | Promise<RateTicket>;
}
