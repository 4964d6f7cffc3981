// The Date header value (RFC 9110 §6.6.1: IMF-fixdate), formatted at most once per second:
// every response carries one, and toUTCString() per response would be measurable.

let cached = "";
let cachedSecond = -1;

export function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cached = new Date(second * 1000).toUTCString();
  }
  return cached;
}
