// Deep freezing: what the controller is handed from a cache (or as a pure function's input) must not be changed
// in place, and a frozen copy makes any write throw (modules are strict).

/** Freezes every object and array reachable from value, so any write to it throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
