// The contract between a test page and the harness, imported by both sides (so no DOM or Node types here).
// A page registers named async checks; the harness calls them with JSON parameters and gets JSON back.

/** One named check of a page: JSON in, JSON out. */
export type PageCheck = (params: never) => Promise<unknown>;

/** What a page exposes on globalThis under PAGE_API. */
export interface PageApi {
  checks: Record<string, PageCheck>;
}

/** The global the page sets once its module has loaded and its checks are registered. */
export const PAGE_API = '__motePage';

/** Page side: makes `checks` callable from the harness. Call once, at the end of the page's entry module. */
export function exposeChecks(checks: Record<string, PageCheck>): void {
  const api: PageApi = { checks };
  (globalThis as Record<string, unknown>)[PAGE_API] = api;
}
